# expect: name.*lower-case
# phase: plan
resource "agentmesh_workgroup" "x" {
  name = "markets channel"
  owner_organization = "markets-co"
}
