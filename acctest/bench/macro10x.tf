# Macro Pulse at scale: `copies` disjoint copies of the reference scenario
# (5 organisations, 8 agents + 1 client agent, 7 workgroups, 3 contracts
# each). Used by `make bench`.
terraform {
  required_providers {
    agentmesh = { source = "agentmesh/agentmesh" }
  }
}

variable "copies" {
  type    = number
  default = 10
}

locals {
  base = {
    "equity-feed"      = { org = "markets-co", channel = "markets-channel", internal = "markets-internal", contract = "provider-default" }
    "fx-feed"          = { org = "markets-co", channel = "markets-channel", internal = "markets-internal", contract = "provider-default" }
    "commodities-feed" = { org = "markets-co", channel = "markets-channel", internal = "markets-internal", contract = "provider-default" }
    "weather-feed"     = { org = "weather-co", channel = "weather-channel", internal = "weather-internal", contract = "provider-default" }
    "search-trends"    = { org = "signals-co", channel = "signals-channel", internal = "signals-internal", contract = "provider-default" }
    "news-pulse"       = { org = "signals-co", channel = "signals-channel", internal = "signals-internal", contract = "tight" }
    "correlator"       = { org = "analytics-co", channel = "analytics-channel", internal = "", contract = "provider-default" }
    "narrator"         = { org = "analytics-co", channel = "analytics-channel", internal = "", contract = "gateway-services" }
  }
  channel_owner  = { "markets-channel" = "markets-co", "weather-channel" = "weather-co", "signals-channel" = "signals-co", "analytics-channel" = "analytics-co" }
  internal_owner = { "markets-internal" = "markets-co", "weather-internal" = "weather-co", "signals-internal" = "signals-co" }
  admins = { "markets-channel" = "commodities-feed", "weather-channel" = "weather-feed", "signals-channel" = "news-pulse", "analytics-channel" = "correlator",
  "markets-internal" = "commodities-feed", "weather-internal" = "weather-feed", "signals-internal" = "news-pulse" }

  agents = merge([for i in range(var.copies) : { for a, v in local.base : "${a}-${i}" => {
    org  = "${v.org}-${i}", channel = "${v.channel}-${i}", internal = v.internal == "" ? "" : "${v.internal}-${i}", contract = "${v.contract}-${i}",
    base = a, base_channel = v.channel, base_internal = v.internal
  } }]...)
  channels  = merge([for i in range(var.copies) : { for c, o in local.channel_owner : "${c}-${i}" => { owner = "${o}-${i}", client = "enterprise-client-${i}" } }]...)
  internals = merge([for i in range(var.copies) : { for g, o in local.internal_owner : "${g}-${i}" => "${o}-${i}" }]...)
  groups = merge(
    { for a, v in local.agents : "${a}@${v.channel}" => { agent = a, group = v.channel, admin = local.admins[v.base_channel] == v.base } },
    { for a, v in local.agents : "${a}@${v.internal}" => { agent = a, group = v.internal, admin = local.admins[v.base_internal] == v.base } if v.internal != "" },
  )
}

resource "agentmesh_identity" "agent" {
  for_each     = local.agents
  name         = each.key
  organization = each.value.org
}

resource "agentmesh_identity" "client" {
  count        = var.copies
  name         = "pulse-agent-${count.index}"
  organization = "enterprise-client-${count.index}"
}

resource "agentmesh_workgroup" "channel" {
  for_each                    = local.channels
  name                        = each.key
  owner_organization          = each.value.owner
  participating_organizations = [each.value.client]
}

resource "agentmesh_workgroup" "internal" {
  for_each           = local.internals
  name               = each.key
  owner_organization = each.value
}

resource "agentmesh_workgroup_membership" "admin" {
  for_each   = { for k, v in local.groups : k => v if v.admin }
  workgroup  = each.value.group
  identity   = agentmesh_identity.agent[each.value.agent].id
  role       = "admin"
  depends_on = [agentmesh_workgroup.channel, agentmesh_workgroup.internal]
}

resource "agentmesh_workgroup_membership" "member" {
  for_each   = { for k, v in local.groups : k => v if !v.admin }
  workgroup  = each.value.group
  identity   = agentmesh_identity.agent[each.value.agent].id
  depends_on = [agentmesh_workgroup_membership.admin]
}

resource "agentmesh_workgroup_membership" "client" {
  for_each   = local.channels
  workgroup  = agentmesh_workgroup.channel[each.key].name
  identity   = agentmesh_identity.client[tonumber(regex("[0-9]+$", each.key))].id
  depends_on = [agentmesh_workgroup_membership.admin]
}

resource "agentmesh_contract" "provider_default" {
  count                 = var.copies
  name                  = "provider-default-${count.index}"
  owner_organization    = "enterprise-client-${count.index}"
  max_duration_seconds  = 60
  allowed_message_types = ["*"]
}

resource "agentmesh_contract" "tight" {
  count                 = var.copies
  name                  = "tight-${count.index}"
  owner_organization    = "signals-co-${count.index}"
  max_duration_seconds  = 30
  max_message_bytes     = 1024
  allowed_message_types = ["signals.news.request", "signals.news.response"]
}

resource "agentmesh_contract" "gateway_services" {
  count                 = var.copies
  name                  = "gateway-services-${count.index}"
  owner_organization    = "analytics-co-${count.index}"
  max_duration_seconds  = 900
  max_message_count     = 500
  max_message_bytes     = 262144
  allowed_message_types = ["*"]
}

resource "agentmesh_endpoint" "agent" {
  for_each   = local.agents
  name       = each.key
  host       = agentmesh_identity.agent[each.key].id
  workgroups = compact([each.value.channel, each.value.internal])
  contract   = each.value.contract
  depends_on = [agentmesh_workgroup.channel, agentmesh_workgroup.internal, agentmesh_contract.provider_default, agentmesh_contract.tight, agentmesh_contract.gateway_services]
}
