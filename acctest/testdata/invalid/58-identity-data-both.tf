# expect: Invalid Attribute Combination
# phase: plan
data "agentmesh_identity" "x" {
  id = "a"
  name = "b"
}
