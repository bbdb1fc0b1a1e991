data "agentmesh_endpoint" "equity_feed" {
  name = "equity-feed"
}
