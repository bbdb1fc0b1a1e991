# expect: tags.*found
# phase: plan
resource "agentmesh_identity" "x" {
  name = "inv-t"
  tags = { "x\" or true" = "v" }
}
