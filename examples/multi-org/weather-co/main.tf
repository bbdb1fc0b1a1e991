# weather-co's own state.
terraform {
  required_providers {
    agentmesh = {
      source = "agentmesh/agentmesh"
    }
  }
}

provider "agentmesh" {}

module "org" {
  source         = "../modules/provider-org"
  organization   = "weather-co"
  channel        = "weather-channel"
  clients        = ["enterprise-client"]
  internal_group = "weather-internal"
  agents         = { "weather-feed" = "macro-pulse-provider-default" }
}
