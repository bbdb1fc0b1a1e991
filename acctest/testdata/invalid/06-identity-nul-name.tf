# expect: name.*control or format
# phase: plan
resource "agentmesh_identity" "x" {
  name = "a\u0000b"
}
