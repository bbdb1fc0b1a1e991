# expect: allowed_message_types.*found
# phase: plan
resource "agentmesh_contract" "x" {
  name = "inv-c"
  owner_organization = "markets-co"
  allowed_message_types = ["signals/news"]
}
