# expect: role_attributes.*found
# phase: plan
resource "agentmesh_identity" "x" {
  name = "inv-r"
  role_attributes = ["#all"]
}
