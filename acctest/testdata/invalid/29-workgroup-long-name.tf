# expect: name.*lower-case
# phase: plan
resource "agentmesh_workgroup" "x" {
  name = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
  owner_organization = "markets-co"
}
