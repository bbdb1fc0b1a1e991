# expect: role_attributes.*reserved prefix "agentmesh\.
# phase: plan
resource "agentmesh_identity" "x" {
  name = "inv-r"
  role_attributes = ["agentmesh.owner"]
}
