# expect: identity.*at least 1
# phase: plan
resource "agentmesh_workgroup_membership" "x" {
  workgroup = "w"
  identity = ""
}
