# expect: organization.*lower-case
# phase: plan
resource "agentmesh_identity" "x" {
  name = "inv-o"
  organization = "a.b"
}
