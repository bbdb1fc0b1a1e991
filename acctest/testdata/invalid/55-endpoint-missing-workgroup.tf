# expect: workgroup "inv-ghost" does not exist; create it first
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
resource "agentmesh_endpoint" "x" {
  name = "inv-ep"
  host = agentmesh_identity.m.id
  workgroups = ["inv-ghost"]
  contract = agentmesh_contract.c.name
}
