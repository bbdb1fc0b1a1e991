# The network operator's state: the shared contracts every organisation
# refers to by name. Apply this first.
terraform {
  required_providers {
    agentmesh = {
      source = "agentmesh/agentmesh"
    }
  }
}

provider "agentmesh" {}

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
