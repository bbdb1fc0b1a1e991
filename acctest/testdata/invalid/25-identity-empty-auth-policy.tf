# expect: auth_policy.*at least 1
# phase: plan
resource "agentmesh_identity" "x" {
  name = "inv-a"
  auth_policy = ""
}
