# expect: name.*control or format
# phase: plan
resource "agentmesh_identity" "x" {
  name = "pulse\u200Bagent"
}
