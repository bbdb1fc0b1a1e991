# markets-co's own state.
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
  organization   = "markets-co"
  channel        = "markets-channel"
  clients        = ["enterprise-client"]
  internal_group = "markets-internal"
  agents = {
    "equity-feed"      = "macro-pulse-provider-default"
    "fx-feed"          = "macro-pulse-provider-default"
    "commodities-feed" = "macro-pulse-provider-default"
  }
}
