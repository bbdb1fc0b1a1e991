# expect: Invalid Attribute Combination
# phase: plan
provider "agentmesh" {
  insecure = true
  fetch_well_known_ca = true
}
resource "agentmesh_identity" "x" {
  name = "inv-p"
}
