# expect: required_workgroups.*lower-case
# phase: plan
resource "agentmesh_contract" "x" {
  name = "inv-c"
  owner_organization = "markets-co"
  allowed_message_types = ["*"]
  required_workgroups = ["Vetted"]
}
