# expect: intercept.protocols.*value must be one of
# phase: plan
resource "agentmesh_endpoint" "x" {
  name = "inv-ep"
  host = "abc"
  workgroups = ["w"]
  contract = "c"
  intercept = { protocols = ["icmp"], addresses = ["a.ziti"], port = 1 }
}
