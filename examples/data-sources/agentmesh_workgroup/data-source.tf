# Another organisation's workgroup, to join from this state.
data "agentmesh_workgroup" "markets_channel" {
  name = "markets-channel"
}
