# enterprise-client's own state: its pulse-agent joins the four channels
# the provider organisations invited it to, through memberships it owns.
terraform {
  required_providers {
    agentmesh = {
      source = "agentmesh/agentmesh"
    }
  }
}

provider "agentmesh" {}

locals {
  channels = ["markets-channel", "weather-channel", "signals-channel", "analytics-channel"]
}

resource "agentmesh_identity" "pulse_agent" {
  name                = "pulse-agent"
  organization        = "enterprise-client"
  keep_enrollment_jwt = false # no enrollment secret in the state (agentmesh_enrollment_token hands it out)
}

# Fails at plan time if a provider organisation has not created its channel.
data "agentmesh_workgroup" "channel" {
  for_each = toset(local.channels)
  name     = each.key
}

resource "agentmesh_workgroup_membership" "pulse" {
  for_each  = data.agentmesh_workgroup.channel
  workgroup = each.value.name
  identity  = agentmesh_identity.pulse_agent.id
}

check "pulse_agent_sees_every_channel" {
  data "agentmesh_access" "pulse" {
    identity = agentmesh_identity.pulse_agent.id
  }
  assert {
    condition     = length(data.agentmesh_access.pulse.services) >= 8
    error_message = "pulse-agent does not see the endpoints of all four channels"
  }
}
