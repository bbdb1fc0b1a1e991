# expect: name.*control or format
# phase: plan
resource "agentmesh_identity" "x" {
  name = "evil\u202Egpj.exe"
}
