# The agentmesh quickstart: three organisations' agents, one shared
# workgroup, one contract and one dark endpoint that only the workgroup's
# members can see.
# `make demo` applies this against a local controller; credentials come
# from AGENTMESH_* environment variables that the demo sets.
terraform {
  required_providers {
    agentmesh = {
      source = "agentmesh/agentmesh"
    }
  }
}

provider "agentmesh" {}

locals {
  agents = {
    "pulse-agent"   = { organization = "macro-co", roles = ["orchestrator"] }
    "markets-agent" = { organization = "markets-co", roles = ["equities"] }
    "signals-agent" = { organization = "signals-co", roles = ["sentiment"] }
  }
}

resource "agentmesh_identity" "agent" {
  for_each        = local.agents
  name            = each.key
  organization    = each.value.organization
  kind            = "agent"
  role_attributes = each.value.roles
  tags            = { example = "quickstart" }
  # No enrollment secret in the state: agentmesh_enrollment_token below
  # hands pulse-agent's token to whoever enrolls it.
  keep_enrollment_jwt = false
}

resource "agentmesh_identity" "llm_gateway" {
  name                = "llm-gateway"
  organization        = "macro-co"
  kind                = "gateway"
  tags                = { example = "quickstart" }
  keep_enrollment_jwt = false
}

# macro-co's channel, with markets-co invited; signals-co is not.
resource "agentmesh_workgroup" "macro_channel" {
  name                        = "macro-channel"
  owner_organization          = "macro-co"
  participating_organizations = ["markets-co"]
}

resource "agentmesh_workgroup_membership" "pulse" {
  workgroup = agentmesh_workgroup.macro_channel.name
  identity  = agentmesh_identity.agent["pulse-agent"].id
  role      = "admin"
}

resource "agentmesh_workgroup_membership" "markets" {
  workgroup  = agentmesh_workgroup.macro_channel.name
  identity   = agentmesh_identity.agent["markets-agent"].id
  depends_on = [agentmesh_workgroup_membership.pulse]
}

resource "agentmesh_contract" "default" {
  name                  = "quickstart-default"
  owner_organization    = "macro-co"
  max_duration_seconds  = 60
  allowed_message_types = ["*"]
}

resource "agentmesh_endpoint" "insights" {
  name         = "pulse-insights"
  host         = agentmesh_identity.agent["pulse-agent"].id
  workgroups   = [agentmesh_workgroup.macro_channel.name]
  contract     = agentmesh_contract.default.name
  capabilities = [{ name = "macro_outlook", description = "daily macro outlook" }]
}

check "signals_cannot_see_insights" {
  data "agentmesh_access" "insights_check" {
    endpoint = agentmesh_endpoint.insights.id
  }
  assert {
    condition     = !contains(data.agentmesh_access.insights_check.identities, "signals-agent")
    error_message = "signals-agent can dial pulse-insights"
  }
}

data "agentmesh_access" "insights" {
  endpoint   = agentmesh_endpoint.insights.id
  depends_on = [agentmesh_workgroup_membership.markets]
}

output "who_can_dial_pulse_insights" {
  description = "Answered by the controller's own evaluation of the live policies."
  value       = data.agentmesh_access.insights.identities
}

output "identities" {
  description = "What was created on the controller."
  value = merge(
    { for k, v in agentmesh_identity.agent : k => {
      id           = v.id
      organization = v.organization
      kind         = v.kind
      enrolled     = v.enrolled
      expires      = v.enrollment_expires_at
    } },
    { "llm-gateway" = {
      id           = agentmesh_identity.llm_gateway.id
      organization = agentmesh_identity.llm_gateway.organization
      kind         = agentmesh_identity.llm_gateway.kind
      enrolled     = agentmesh_identity.llm_gateway.enrolled
      expires      = agentmesh_identity.llm_gateway.enrollment_expires_at
    } },
  )
}

variable "enrollment_dir" {
  description = "Where to write pulse-agent's one-time enrollment token (mode 0600) for `ziti edge enroll`; empty writes nothing. The token never enters the state."
  type        = string
  default     = ""
}

ephemeral "agentmesh_enrollment_token" "pulse_agent" {
  identity = agentmesh_identity.agent["pulse-agent"].id
}

resource "terraform_data" "pulse_agent_token" {
  count            = var.enrollment_dir == "" ? 0 : 1
  triggers_replace = [agentmesh_identity.agent["pulse-agent"].id]
  provisioner "local-exec" {
    command     = "umask 077; printf %s \"$JWT\" > \"$DIR/pulse-agent.jwt\""
    environment = { JWT = ephemeral.agentmesh_enrollment_token.pulse_agent.jwt, DIR = var.enrollment_dir }
  }
}
