# expect: capabilities.*name.*found
# phase: plan
resource "agentmesh_endpoint" "x" {
  name = "inv-ep"
  host = "abc"
  workgroups = ["w"]
  contract = "c"
  capabilities = [{ name = "<script>" }]
}
