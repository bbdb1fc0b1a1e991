# expect: role_attributes.*reserved prefix "wg\.
# phase: plan
resource "agentmesh_identity" "x" {
  name = "inv-r"
  role_attributes = ["wg.markets-channel"]
}
