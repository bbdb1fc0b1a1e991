# Members of macro-analysts reach llama3 through their own dark data-plane
# services, 50k tokens a day each; they never hold an API key.
resource "agentmesh_llm_route" "analysis" {
  gateway       = agentmesh_gateway.llm.name
  name          = "analysis"
  model         = "llama3"
  description   = "macro analysis and summaries"
  examples      = ["summarise today's rates moves"]
  workgroups    = [agentmesh_workgroup.macro_analysts.name]
  budget_tokens = 50000
  budget_period = "day"
}
