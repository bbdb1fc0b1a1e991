# The agentmesh quickstart: three organisations' first identities.
# `make demo` applies this against a local controller; credentials come
# from AGENTMESH_* environment variables that the demo sets.
terraform {
  required_providers {
    agentmesh = {
      source = "registry.opentofu.org/agentmesh/agentmesh"
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
}

resource "agentmesh_identity" "llm_gateway" {
  name         = "llm-gateway"
  organization = "macro-co"
  kind         = "gateway"
  tags         = { example = "quickstart" }
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

output "pulse_agent_enrollment_jwt" {
  description = "Enroll with: tofu output -raw pulse_agent_enrollment_jwt > pulse.jwt && ziti edge enroll pulse.jwt"
  value       = agentmesh_identity.agent["pulse-agent"].enrollment_jwt
  sensitive   = true
}
