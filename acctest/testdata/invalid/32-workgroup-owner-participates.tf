# expect: participating_organizations: "markets-co" is the owner
# phase: apply
resource "agentmesh_workgroup" "x" {
  name = "inv-w"
  owner_organization = "markets-co"
  participating_organizations = ["markets-co"]
}
