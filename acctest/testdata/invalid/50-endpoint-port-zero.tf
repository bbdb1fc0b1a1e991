# expect: intercept.port.*between 1 and 65535
# phase: plan
resource "agentmesh_endpoint" "x" {
  name = "inv-ep"
  host = "abc"
  workgroups = ["w"]
  contract = "c"
  intercept = { addresses = ["a.ziti"], port = 0 }
}
