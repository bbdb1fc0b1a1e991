# expect: belongs to organisation signals-co, which is neither the owner
# phase: apply
resource "agentmesh_identity" "m" {
  name         = "inv-markets-agent"
  organization = "markets-co"
}
resource "agentmesh_identity" "s" {
  name         = "inv-signals-agent"
  organization = "signals-co"
}
resource "agentmesh_workgroup" "w" {
  name               = "inv-markets-only"
  owner_organization = "markets-co"
}
resource "agentmesh_contract" "c" {
  name                  = "inv-contract"
  owner_organization    = "markets-co"
  allowed_message_types = ["*"]
}
resource "agentmesh_workgroup_membership" "x" {
  workgroup = agentmesh_workgroup.w.name
  identity = agentmesh_identity.s.id
}
