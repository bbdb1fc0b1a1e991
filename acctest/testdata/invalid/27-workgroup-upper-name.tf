# expect: name.*lower-case
# phase: plan
resource "agentmesh_workgroup" "x" {
  name = "Markets"
  owner_organization = "markets-co"
}
