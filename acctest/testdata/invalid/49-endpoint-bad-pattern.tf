# expect: interaction_patterns.*value must be one of
# phase: plan
resource "agentmesh_endpoint" "x" {
  name = "inv-ep"
  host = "abc"
  workgroups = ["w"]
  contract = "c"
  interaction_patterns = ["telepathy"]
}
