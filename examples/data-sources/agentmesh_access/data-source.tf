# Policy tests, answered by the controller's own evaluation of live policies.
check "markets_cannot_see_signals" {
  data "agentmesh_access" "equity_feed" {
    identity = agentmesh_identity.equity_feed.id
  }
  assert {
    condition     = !contains(data.agentmesh_access.equity_feed.services, "news-pulse")
    error_message = "equity-feed (markets-co) can reach news-pulse (signals-co)"
  }
}

check "news_pulse_audience" {
  data "agentmesh_access" "news_pulse" {
    endpoint = agentmesh_endpoint.news_pulse.id
  }
  assert {
    condition     = contains(data.agentmesh_access.news_pulse.identities, "pulse-agent")
    error_message = "pulse-agent lost access to news-pulse"
  }
}
