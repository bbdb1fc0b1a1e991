# expect: max_message_bytes.*at least 0
# phase: plan
resource "agentmesh_contract" "x" {
  name = "inv-c"
  owner_organization = "markets-co"
  allowed_message_types = ["*"]
  max_message_bytes = -1024
}
