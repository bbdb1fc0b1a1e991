# expect: name.*found
# phase: plan
resource "agentmesh_identity" "x" {
  name = "`id`"
}
