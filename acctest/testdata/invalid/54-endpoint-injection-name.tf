# expect: name.*found
# phase: plan
resource "agentmesh_endpoint" "x" {
  name = "x; rm -rf /"
  host = "abc"
  workgroups = ["w"]
  contract = "c"
}
