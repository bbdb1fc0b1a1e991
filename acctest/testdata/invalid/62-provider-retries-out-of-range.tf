# expect: max_retries must be between 0 and 50
# phase: plan
provider "agentmesh" {
  max_retries = 99
}
resource "agentmesh_identity" "x" {
  name = "inv-p"
}
