# expect: role_attributes.*must not start with
# phase: plan
resource "agentmesh_identity" "x" {
  name = "inv-r"
  role_attributes = ["@admin"]
}
