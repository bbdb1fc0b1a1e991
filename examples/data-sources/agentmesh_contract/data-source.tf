data "agentmesh_contract" "default" {
  name = "macro-pulse-provider-default"
}
