# expect: host: identity no-such-id does not exist
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
  host = "no-such-id"
  workgroups = [agentmesh_workgroup.w.name]
  contract = agentmesh_contract.c.name
}
