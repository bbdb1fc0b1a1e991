# expect: max_duration_seconds.*at least 0
# phase: plan
resource "agentmesh_contract" "x" {
  name = "inv-c"
  owner_organization = "markets-co"
  allowed_message_types = ["*"]
  max_duration_seconds = -1
}
