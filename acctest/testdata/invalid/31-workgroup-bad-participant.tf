# expect: participating_organizations.*lower-case
# phase: plan
resource "agentmesh_workgroup" "x" {
  name = "inv-w"
  owner_organization = "markets-co"
  participating_organizations = ["$(x)"]
}
