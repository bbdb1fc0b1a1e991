# expect: must use https
# phase: plan
provider "agentmesh" {
  endpoint = "http://127.0.0.1:1280"
}
resource "agentmesh_identity" "x" {
  name = "inv-p"
}
