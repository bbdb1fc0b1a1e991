resource "agentmesh_endpoint" "news_pulse" {
  name        = "news-pulse"
  host        = agentmesh_identity.news_pulse.id
  workgroups  = [agentmesh_workgroup.signals_channel.name, agentmesh_workgroup.signals_internal.name]
  contract    = agentmesh_contract.tight.name
  description = "Breaking-news pulse"
  capabilities = [
    { name = "headlines", description = "latest headlines by topic" },
    { name = "sentiment", description = "sentiment score per headline" },
  ]
  interaction_patterns = ["request-response", "stream"]
  # The host runs the guard in front of the agent, which enforces the
  # contract's message and duration terms:
  #   agentmesh endpoint-guard --identity news-pulse.json \
  #     --endpoint news-pulse --forward 127.0.0.1:8443
  hosting = "guarded"
}
