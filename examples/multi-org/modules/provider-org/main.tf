# One provider organisation's own state: its agents, the channel it
# publishes on (inviting its clients), an optional internal group, its
# endpoints, and memberships of its own agents only.
terraform {
  required_providers {
    agentmesh = {
      source = "agentmesh/agentmesh"
    }
  }
}

variable "organization" {
  type = string
}

variable "channel" {
  description = "Name of the inter-org channel this organisation owns."
  type        = string
}

variable "clients" {
  description = "Organisations invited to the channel."
  type        = set(string)
}

variable "internal_group" {
  description = "Name of an intra-org workgroup, or null for none."
  type        = string
  default     = null
}

variable "agents" {
  description = "Agent name => name of the contract its endpoint uses (contracts belong to the operator's state)."
  type        = map(string)
}

locals {
  admin = sort(keys(var.agents))[0]
}

resource "agentmesh_identity" "agent" {
  for_each            = var.agents
  name                = each.key
  organization        = var.organization
  keep_enrollment_jwt = false # no enrollment secret in the state (agentmesh_enrollment_token hands it out)
}

resource "agentmesh_workgroup" "channel" {
  name                        = var.channel
  owner_organization          = var.organization
  participating_organizations = var.clients
}

resource "agentmesh_workgroup" "internal" {
  count              = var.internal_group == null ? 0 : 1
  name               = var.internal_group
  owner_organization = var.organization
}

resource "agentmesh_workgroup_membership" "channel_admin" {
  workgroup = agentmesh_workgroup.channel.name
  identity  = agentmesh_identity.agent[local.admin].id
  role      = "admin"
}

resource "agentmesh_workgroup_membership" "channel" {
  for_each   = { for a in keys(var.agents) : a => a if a != local.admin }
  workgroup  = agentmesh_workgroup.channel.name
  identity   = agentmesh_identity.agent[each.key].id
  depends_on = [agentmesh_workgroup_membership.channel_admin]
}

resource "agentmesh_workgroup_membership" "internal_admin" {
  count     = var.internal_group == null ? 0 : 1
  workgroup = agentmesh_workgroup.internal[0].name
  identity  = agentmesh_identity.agent[local.admin].id
  role      = "admin"
}

resource "agentmesh_workgroup_membership" "internal" {
  for_each   = var.internal_group == null ? {} : { for a in keys(var.agents) : a => a if a != local.admin }
  workgroup  = agentmesh_workgroup.internal[0].name
  identity   = agentmesh_identity.agent[each.key].id
  depends_on = [agentmesh_workgroup_membership.internal_admin]
}

data "agentmesh_contract" "used" {
  for_each = toset(values(var.agents))
  name     = each.key
}

resource "agentmesh_endpoint" "agent" {
  for_each   = var.agents
  name       = each.key
  host       = agentmesh_identity.agent[each.key].id
  workgroups = compact([agentmesh_workgroup.channel.name, try(agentmesh_workgroup.internal[0].name, "")])
  contract   = data.agentmesh_contract.used[each.value].name
}

output "endpoints" {
  value = sort(keys(agentmesh_endpoint.agent))
}
