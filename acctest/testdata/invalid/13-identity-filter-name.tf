# expect: name.*found
# phase: plan
resource "agentmesh_identity" "x" {
  name = "a\" or true or name = \"b"
}
