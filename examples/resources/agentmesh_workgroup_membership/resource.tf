# markets-co makes its feed agent the channel's admin...
resource "agentmesh_workgroup_membership" "equity_feed" {
  workgroup = agentmesh_workgroup.markets_channel.name
  identity  = agentmesh_identity.equity_feed.id
  role      = "admin"
}

# ...and enterprise-client, from its own state, joins its agent by name.
resource "agentmesh_workgroup_membership" "pulse_in_markets" {
  workgroup = "markets-channel"
  identity  = agentmesh_identity.pulse_agent.id
}
