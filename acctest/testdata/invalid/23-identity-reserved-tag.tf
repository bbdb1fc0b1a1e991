# expect: tags.*reserved prefix "agentmesh_"
# phase: plan
resource "agentmesh_identity" "x" {
  name = "inv-t"
  tags = { agentmesh_managed_by = "me" }
}
