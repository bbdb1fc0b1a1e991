# expect: allowed_message_types.*required
# phase: plan
resource "agentmesh_contract" "x" {
  name = "inv-c"
  owner_organization = "markets-co"
}
