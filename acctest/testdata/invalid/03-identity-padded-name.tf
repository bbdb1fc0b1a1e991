# expect: name.*white space
# phase: plan
resource "agentmesh_identity" "x" {
  name = " padded"
}
