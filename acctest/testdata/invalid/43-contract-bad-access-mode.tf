# expect: access_mode.*value must be one of
# phase: plan
resource "agentmesh_contract" "x" {
  name = "inv-c"
  owner_organization = "markets-co"
  allowed_message_types = ["*"]
  access_mode = "whenever"
}
