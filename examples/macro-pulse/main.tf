# Macro Pulse, the reference scenario: five organisations, eight agents,
# four inter-org channels, three intra-org groups and three contracts.
# markets-co and signals-co share no workgroup, so neither can see the
# other's agents; enterprise-client's pulse-agent sees every channel.
terraform {
  required_providers {
    agentmesh = {
      source = "agentmesh/agentmesh"
    }
  }
}

provider "agentmesh" {}

locals {
  # agent => organisation, the channel it publishes on, its internal group
  # (if its organisation has one) and its contract.
  agents = {
    "equity-feed"      = { org = "markets-co", channel = "markets-channel", internal = "markets-internal", contract = "macro-pulse-provider-default" }
    "fx-feed"          = { org = "markets-co", channel = "markets-channel", internal = "markets-internal", contract = "macro-pulse-provider-default" }
    "commodities-feed" = { org = "markets-co", channel = "markets-channel", internal = "markets-internal", contract = "macro-pulse-provider-default" }
    "weather-feed"     = { org = "weather-co", channel = "weather-channel", internal = "weather-internal", contract = "macro-pulse-provider-default" }
    "search-trends"    = { org = "signals-co", channel = "signals-channel", internal = "signals-internal", contract = "macro-pulse-provider-default" }
    "news-pulse"       = { org = "signals-co", channel = "signals-channel", internal = "signals-internal", contract = "demo-contract-tight" }
    "correlator"       = { org = "analytics-co", channel = "analytics-channel", internal = null, contract = "macro-pulse-provider-default" }
    "narrator"         = { org = "analytics-co", channel = "analytics-channel", internal = null, contract = "gateway-services-default" }
  }
  channels = {
    "markets-channel"   = "markets-co"
    "weather-channel"   = "weather-co"
    "signals-channel"   = "signals-co"
    "analytics-channel" = "analytics-co"
  }
  internal_groups = {
    "markets-internal" = "markets-co"
    "weather-internal" = "weather-co"
    "signals-internal" = "signals-co"
  }
  # The first agent of each group is its admin.
  channel_admins  = { for ch, org in local.channels : ch => sort([for a, v in local.agents : a if v.channel == ch])[0] }
  internal_admins = { for g, org in local.internal_groups : g => sort([for a, v in local.agents : a if v.internal == g])[0] }
  memberships = merge(
    { for a, v in local.agents : "${a}@${v.channel}" => { agent = a, group = v.channel, admin = local.channel_admins[v.channel] == a } },
    { for a, v in local.agents : "${a}@${v.internal}" => { agent = a, group = v.internal, admin = local.internal_admins[v.internal] == a } if v.internal != null },
  )
}

resource "agentmesh_identity" "agent" {
  for_each            = local.agents
  name                = each.key
  organization        = each.value.org
  keep_enrollment_jwt = false # no enrollment secret in the state (agentmesh_enrollment_token hands it out)
}

resource "agentmesh_identity" "pulse_agent" {
  name                = "pulse-agent"
  organization        = "enterprise-client"
  keep_enrollment_jwt = false # no enrollment secret in the state (agentmesh_enrollment_token hands it out)
}

resource "agentmesh_workgroup" "channel" {
  for_each                    = local.channels
  name                        = each.key
  owner_organization          = each.value
  participating_organizations = ["enterprise-client"]
  description                 = "${each.value} publishes to enterprise clients"
}

resource "agentmesh_workgroup" "internal" {
  for_each           = local.internal_groups
  name               = each.key
  owner_organization = each.value
  description        = "${each.value} only"
}

resource "agentmesh_workgroup_membership" "admin" {
  for_each   = { for k, v in local.memberships : k => v if v.admin }
  workgroup  = each.value.group
  identity   = agentmesh_identity.agent[each.value.agent].id
  role       = "admin"
  depends_on = [agentmesh_workgroup.channel, agentmesh_workgroup.internal]
}

resource "agentmesh_workgroup_membership" "member" {
  for_each   = { for k, v in local.memberships : k => v if !v.admin }
  workgroup  = each.value.group
  identity   = agentmesh_identity.agent[each.value.agent].id
  depends_on = [agentmesh_workgroup_membership.admin]
}

# enterprise-client's pulse-agent joins every channel.
resource "agentmesh_workgroup_membership" "pulse" {
  for_each   = agentmesh_workgroup.channel
  workgroup  = each.value.name
  identity   = agentmesh_identity.pulse_agent.id
  depends_on = [agentmesh_workgroup_membership.admin]
}

resource "agentmesh_contract" "provider_default" {
  name                  = "macro-pulse-provider-default"
  owner_organization    = "enterprise-client"
  max_duration_seconds  = 60
  allowed_message_types = ["*"]
}

resource "agentmesh_contract" "tight" {
  name                  = "demo-contract-tight"
  owner_organization    = "signals-co"
  max_duration_seconds  = 30
  max_message_bytes     = 1024
  allowed_message_types = ["signals.news.request", "signals.news.response"]
}

resource "agentmesh_contract" "gateway_services" {
  name                  = "gateway-services-default"
  owner_organization    = "analytics-co"
  max_duration_seconds  = 900
  max_message_count     = 500
  max_message_bytes     = 262144
  allowed_message_types = ["*"]
}

resource "agentmesh_endpoint" "agent" {
  for_each             = local.agents
  name                 = each.key
  host                 = agentmesh_identity.agent[each.key].id
  workgroups           = compact([each.value.channel, each.value.internal])
  contract             = each.value.contract
  capabilities         = [{ name = replace(each.key, "-", "_"), description = "${each.key} by ${each.value.org}" }]
  interaction_patterns = ["request-response"]
  # Tunnellers of authorised dialers reach each agent at <name>.macro.ziti:443;
  # the host's tunneller forwards to the agent on its loopback.
  intercept    = { addresses = ["${each.key}.macro.ziti"], port = 443 }
  host_address = { address = "127.0.0.1", port = 8443 }
  depends_on = [agentmesh_workgroup.channel, agentmesh_workgroup.internal,
  agentmesh_contract.provider_default, agentmesh_contract.tight, agentmesh_contract.gateway_services]
}

# Policy tests, answered by the controller's evaluation of the live policies.
check "markets_cannot_see_signals" {
  data "agentmesh_access" "equity_feed" {
    identity = agentmesh_identity.agent["equity-feed"].id
  }
  assert {
    condition     = length(setintersection(data.agentmesh_access.equity_feed.services, ["search-trends", "news-pulse"])) == 0
    error_message = "markets-co's equity-feed can reach a signals-co endpoint"
  }
}

check "signals_cannot_see_markets" {
  data "agentmesh_access" "news_pulse" {
    identity = agentmesh_identity.agent["news-pulse"].id
  }
  assert {
    condition     = length(setintersection(data.agentmesh_access.news_pulse.services, ["equity-feed", "fx-feed", "commodities-feed"])) == 0
    error_message = "signals-co's news-pulse can reach a markets-co endpoint"
  }
}

check "pulse_agent_sees_every_channel" {
  data "agentmesh_access" "pulse" {
    identity = agentmesh_identity.pulse_agent.id
  }
  assert {
    condition     = length(setsubtract(keys(local.agents), data.agentmesh_access.pulse.services)) == 0
    error_message = "pulse-agent is missing a channel's endpoints"
  }
}
