# expect: workgroup.*lower-case
# phase: plan
resource "agentmesh_workgroup_membership" "x" {
  workgroup = "W G"
  identity = "abc"
}
