# analytics-co's own state (no internal group).
terraform {
  required_providers {
    agentmesh = {
      source = "agentmesh/agentmesh"
    }
  }
}

provider "agentmesh" {}

module "org" {
  source       = "../modules/provider-org"
  organization = "analytics-co"
  channel      = "analytics-channel"
  clients      = ["enterprise-client"]
  agents = {
    "correlator" = "macro-pulse-provider-default"
    "narrator"   = "gateway-services-default"
  }
}
