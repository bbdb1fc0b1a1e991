# expect: name.*must not be empty
# phase: plan
resource "agentmesh_identity" "x" {
  name = ""
}
