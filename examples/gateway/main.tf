# An LLM gateway on a dark Ziti network: macro-co's analyst reaches a local
# model through llm-gateway, with its own virtual key and a token budget,
# and no port of the gateway is reachable from anywhere.
#
# Apply in two phases (what `make demo` does):
#   1. tofu apply                          registers the gateway; enroll its identity and
#                                          start `agentmesh gateway-agent` beside llm-gateway
#   2. tofu apply -var with_routes=true    the route reaches the running gateway
terraform {
  required_providers {
    agentmesh = { source = "agentmesh/agentmesh" }
  }
}

variable "gateway_listen" {
  description = "llm-gateway's loopback listener."
  type        = string
  default     = "127.0.0.1:18080"
}

variable "local_model_url" {
  description = "An OpenAI-compatible local model (Ollama, vLLM, ...)."
  type        = string
  default     = "http://127.0.0.1:11434"
}

variable "with_routes" {
  description = "Declare the routes: the gateway agent must be running."
  type        = bool
  default     = false
}

resource "agentmesh_identity" "llm_gateway" {
  name                = "demo-llm-gateway"
  organization        = "ops-co"
  kind                = "gateway"
  keep_enrollment_jwt = false
}

resource "agentmesh_identity" "analyst" {
  name                = "demo-analyst"
  organization        = "macro-co"
  keep_enrollment_jwt = false
}

resource "agentmesh_identity" "intern" {
  name                = "demo-intern"
  organization        = "macro-co"
  keep_enrollment_jwt = false # no enrollment secret in the state (agentmesh_enrollment_token hands it out)
}

resource "agentmesh_workgroup" "analysts" {
  name               = "demo-analysts"
  owner_organization = "macro-co"
}

resource "agentmesh_workgroup_membership" "analyst" {
  workgroup = agentmesh_workgroup.analysts.name
  identity  = agentmesh_identity.analyst.id
  role      = "admin"
}

resource "agentmesh_gateway" "llm" {
  name              = "demo-llm"
  identity          = agentmesh_identity.llm_gateway.id
  listen            = var.gateway_listen
  local_base_url    = var.local_model_url
  intercept_address = "llm.demo.ziti"
}

# Analysts may use llama3, 1000 tokens a day each; the intern is in no
# workgroup and cannot even see the gateway.
resource "agentmesh_llm_route" "chat" {
  count         = var.with_routes ? 1 : 0
  gateway       = agentmesh_gateway.llm.name
  name          = "chat"
  model         = "llama3"
  description   = "General questions about markets and macro data"
  workgroups    = [agentmesh_workgroup.analysts.name]
  budget_tokens = 1000
  budget_period = "day"
  depends_on    = [agentmesh_workgroup_membership.analyst]
}

output "control_service" {
  value = agentmesh_gateway.llm.control_service
}

output "analyst_service" {
  description = "The analyst's own dark data-plane service."
  value       = "${agentmesh_gateway.llm.data_plane_service_prefix}${agentmesh_identity.analyst.name}"
}

# The gateway's and the analyst's one-time enrollment tokens go to files
# (mode 0600) for `ziti edge enroll` on their hosts, never to the state.
variable "enrollment_dir" {
  description = "Where to write gateway.jwt and analyst.jwt; empty writes nothing."
  type        = string
  default     = ""
}

locals {
  enrolling = { gateway = agentmesh_identity.llm_gateway.id, analyst = agentmesh_identity.analyst.id }
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

output "route_applied_generation" {
  value = var.with_routes ? agentmesh_llm_route.chat[0].applied_generation : null
}

data "agentmesh_gateway_usage" "llm" {
  count      = var.with_routes ? 1 : 0
  gateway    = agentmesh_gateway.llm.name
  depends_on = [agentmesh_llm_route.chat]
}

output "usage" {
  description = "Tokens and requests per identity in the current budget period, as the gateway agent metered them."
  value       = var.with_routes ? data.agentmesh_gateway_usage.llm[0].usage : null
}
