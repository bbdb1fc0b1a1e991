# expect: role.*value must be one of
# phase: plan
resource "agentmesh_workgroup_membership" "x" {
  workgroup = "w"
  identity = "abc"
  role = "owner"
}
