# markets-co's equity feed is open only to the clients it approves.
resource "agentmesh_contract" "vetted_access" {
  name                  = "markets-vetted-access"
  owner_organization    = "markets-co"
  allowed_message_types = ["quote.request"]
  access_mode           = "approval_required"
}

resource "agentmesh_endpoint" "equity_feed" {
  name       = "equity-feed"
  host       = agentmesh_identity.equity_feed.id
  workgroups = [agentmesh_workgroup.markets_channel.name]
  contract   = agentmesh_contract.vetted_access.name
}

# pulse-agent (a member of markets-channel) may dial it until the end of
# the engagement; other members of the channel do not even see it.
resource "agentmesh_engagement_approval" "pulse_on_equity" {
  endpoint     = agentmesh_endpoint.equity_feed.id
  consumer     = agentmesh_identity.pulse_agent.id
  organization = "markets-co"
  expires_at   = "2027-06-30T18:00:00Z"
}
