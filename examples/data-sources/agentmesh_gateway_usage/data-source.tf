data "agentmesh_gateway_usage" "llm" {
  gateway = "macro-llm"
}

output "tokens_today" {
  value = { for u in data.agentmesh_gateway_usage.llm.usage : u.identity => u.tokens }
}
