# expect: required_workgroups: workgroup "inv-ghost" does not exist
# phase: apply
resource "agentmesh_contract" "x" {
  name = "inv-c"
  owner_organization = "markets-co"
  allowed_message_types = ["*"]
  required_workgroups = ["inv-ghost"]
}
