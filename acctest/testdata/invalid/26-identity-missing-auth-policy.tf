# expect: HTTP 404.*check auth_policy "no-such-policy"
# phase: apply
resource "agentmesh_identity" "x" {
  name = "inv-a"
  auth_policy = "no-such-policy"
}
