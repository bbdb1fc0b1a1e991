# expect: workgroups.*at least 1
# phase: plan
resource "agentmesh_endpoint" "x" {
  name = "inv-ep"
  host = "abc"
  workgroups = []
  contract = "c"
}
