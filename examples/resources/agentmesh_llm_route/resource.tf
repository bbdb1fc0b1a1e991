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

# Requests with model "auto" that mention code (and are not poems) go to the
# coding model; the gateway's semantic router and default_route handle the
# rest.
resource "agentmesh_llm_route" "coding" {
  gateway     = agentmesh_gateway.llm.name
  name        = "coding"
  model       = "qwen2.5-coder"
  description = "programming, debugging and code review"
  heuristics  = [{ keywords = ["code", "stack trace"], exclude = ["poem"] }]
  workgroups  = [agentmesh_workgroup.macro_analysts.name]
}
