# expect: Invalid Attribute Combination
# phase: plan
provider "agentmesh" {
  ca_pem = "x"
  ca_file = "y"
}
resource "agentmesh_identity" "x" {
  name = "inv-p"
}
