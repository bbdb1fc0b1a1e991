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

# Secrets of a backend are write-only: only their names are recorded. The
# values reach the agent once and are written into mcp-gateway's 0600 config
# (mcp-gateway reads them nowhere else). Raise secrets_wo_version to rotate.
variable "github_token" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "agentmesh_mcp_route" "github_private" {
  gateway            = agentmesh_gateway.tools.name
  namespace          = "ghprivate"
  type               = "stdio"
  command            = "github-mcp-server"
  args               = ["stdio"]
  env                = { GITHUB_TOOLSETS = "repos,issues" }
  secret_env_wo      = { GITHUB_PERSONAL_ACCESS_TOKEN = var.github_token }
  secrets_wo_version = 1
  tools              = ["get_*", "list_*"]
  workgroups         = [agentmesh_workgroup.macro_analysts.name]
}

# An https backend signed by an internal CA, and a zrok backend whose share
# token is write-only like the other secrets. A plain http:// endpoint would
# need allow_insecure = true (mcp-gateway refuses it otherwise).
resource "agentmesh_mcp_route" "wiki" {
  gateway          = agentmesh_gateway.tools.name
  namespace        = "wiki"
  type             = "https"
  endpoint         = "https://wiki.macro.internal/mcp"
  protocol         = "streamable"
  tls_ca_cert_file = "/etc/agentmesh/macro-internal-ca.pem"
  tools            = ["search_pages", "read_page"]
  workgroups       = [agentmesh_workgroup.macro_analysts.name]
}

variable "research_share" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "agentmesh_mcp_route" "research" {
  gateway        = agentmesh_gateway.tools.name
  namespace      = "research"
  type           = "zrok"
  share_token_wo = var.research_share
  tools          = ["lookup_*"]
  workgroups     = [agentmesh_workgroup.macro_analysts.name]
}
