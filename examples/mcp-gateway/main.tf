# An MCP gateway governed by identity: macro-co's researcher lists and calls
# the notes tools over its own dark service, through the gateway agent's MCP
# front; the outsider is served nothing and cannot even see a service.
# mcp-gateway itself serves on a zrok share reserved in closed permission
# mode, so no other zrok account can go around the front.
#
# Apply in two phases (what `make demo` does):
#   1. tofu apply                          registers the gateway; enroll its identity and
#                                          start `agentmesh gateway-agent` (with `zrok:`)
#   2. tofu apply -var with_routes=true    the share token and the route reach the gateway
terraform {
  required_providers {
    agentmesh = { source = "agentmesh/agentmesh" }
  }
}

variable "share_token" {
  description = "A zrok share reserved in closed permission mode (`zrok2 create share --share-token <name> --backend-mode proxy`)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "notes_command" {
  description = "A stdio MCP server on the gateway host."
  type        = string
  default     = "/usr/local/bin/mcp-notes"
}

variable "with_routes" {
  description = "Declare the routes: the gateway agent must be running."
  type        = bool
  default     = false
}

resource "agentmesh_identity" "mcp_gateway" {
  name                = "demo-mcp-gateway"
  organization        = "ops-co"
  kind                = "gateway"
  keep_enrollment_jwt = false
}

resource "agentmesh_identity" "researcher" {
  name                = "demo-researcher"
  organization        = "macro-co"
  keep_enrollment_jwt = false
}

resource "agentmesh_identity" "outsider" {
  name                = "demo-outsider"
  organization        = "macro-co"
  keep_enrollment_jwt = false
}

resource "agentmesh_workgroup" "research" {
  name               = "demo-research"
  owner_organization = "macro-co"
}

resource "agentmesh_workgroup_membership" "researcher" {
  workgroup = agentmesh_workgroup.research.name
  identity  = agentmesh_identity.researcher.id
  role      = "member"
}

resource "agentmesh_gateway" "mcp" {
  name                = "demo-tools"
  kind                = "mcp"
  identity            = agentmesh_identity.mcp_gateway.id
  mcp_connect_timeout = "10s"
  mcp_share_token_wo  = var.share_token
}

# Researchers may read and list notes; writing and deleting stay out of
# their view, and the front refuses those calls naming this route.
resource "agentmesh_mcp_route" "notes" {
  count      = var.with_routes ? 1 : 0
  gateway    = agentmesh_gateway.mcp.name
  namespace  = "notes"
  type       = "stdio"
  command    = var.notes_command
  tools      = ["read_*", "list_*"]
  workgroups = [agentmesh_workgroup.research.name]
  depends_on = [agentmesh_workgroup_membership.researcher]
}

output "control_service" {
  value = agentmesh_gateway.mcp.control_service
}

output "researcher_service" {
  description = "The researcher's own dark MCP service."
  value       = "${agentmesh_gateway.mcp.data_plane_service_prefix}${agentmesh_identity.researcher.name}"
}

# The one-time enrollment tokens go to files (mode 0600) for `ziti edge
# enroll` on their hosts, never to the state.
variable "enrollment_dir" {
  description = "Where to write <who>.jwt; empty writes nothing."
  type        = string
  default     = ""
}

locals {
  enrolling = {
    "mcp-gateway" = agentmesh_identity.mcp_gateway.id
    researcher    = agentmesh_identity.researcher.id
    outsider      = agentmesh_identity.outsider.id
  }
}

ephemeral "agentmesh_enrollment_token" "token" {
  for_each = local.enrolling
  identity = each.value
}

resource "terraform_data" "token" {
  for_each         = var.enrollment_dir == "" ? {} : local.enrolling
  triggers_replace = [each.value]
  provisioner "local-exec" {
    command     = "umask 077; printf %s \"$JWT\" > \"$DIR/${each.key}.jwt\""
    environment = { JWT = ephemeral.agentmesh_enrollment_token.token[each.key].jwt, DIR = var.enrollment_dir }
  }
}
