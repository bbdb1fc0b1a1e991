# An inter-org channel owned by markets-co, with enterprise-client invited.
resource "agentmesh_workgroup" "markets_channel" {
  name                        = "markets-channel"
  description                 = "Market data for enterprise clients"
  owner_organization          = "markets-co"
  participating_organizations = ["enterprise-client"]
}

# An intra-org group: no participants.
resource "agentmesh_workgroup" "markets_internal" {
  name               = "markets-internal"
  owner_organization = "markets-co"
}
