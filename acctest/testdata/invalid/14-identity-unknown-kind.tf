# expect: kind.*value must be one of
# phase: plan
resource "agentmesh_identity" "x" {
  name = "inv-k"
  kind = "robot"
}
