# expect: role_attributes.*reserved prefix "org\.
# phase: plan
resource "agentmesh_identity" "x" {
  name = "inv-r"
  role_attributes = ["org.signals-co"]
}
