# signals-co's own state.
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
  organization   = "signals-co"
  channel        = "signals-channel"
  clients        = ["enterprise-client"]
  internal_group = "signals-internal"
  agents = {
    "search-trends" = "macro-pulse-provider-default"
    "news-pulse"    = "demo-contract-tight"
  }
}
