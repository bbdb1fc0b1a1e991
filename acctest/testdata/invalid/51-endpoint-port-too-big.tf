# expect: host_address.port.*between 1 and 65535
# phase: plan
resource "agentmesh_endpoint" "x" {
  name = "inv-ep"
  host = "abc"
  workgroups = ["w"]
  contract = "c"
  host_address = { address = "127.0.0.1", port = 70000 }
}
