resource "agentmesh_gateway" "tools" {
  name     = "macro-tools"
  kind     = "mcp"
  identity = agentmesh_identity.mcp_gateway.id
}

# Members of macro-analysts get the GitHub search tools as github_search_*.
resource "agentmesh_mcp_route" "github" {
  gateway    = agentmesh_gateway.tools.name
  namespace  = "github"
  type       = "stdio"
  command    = "github-mcp-server"
  args       = ["stdio"]
  tools      = ["search_*"]
  workgroups = [agentmesh_workgroup.macro_analysts.name]
}
