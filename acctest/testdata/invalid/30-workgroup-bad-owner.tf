# expect: owner_organization.*lower-case
# phase: plan
resource "agentmesh_workgroup" "x" {
  name = "inv-w"
  owner_organization = "Markets Co"
}
