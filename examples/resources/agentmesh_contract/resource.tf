# Message and duration terms are enforced by agentmesh endpoint-guard on
# endpoints with hosting = "guarded"; on direct endpoints the plan warns
# that nothing enforces them.
resource "agentmesh_contract" "tight" {
  name                  = "demo-contract-tight"
  owner_organization    = "signals-co"
  description           = "News requests only, small messages, short sessions"
  max_duration_seconds  = 30
  max_message_bytes     = 1024
  allowed_message_types = ["signals.news.request", "signals.news.response"]
  access_mode           = "open"
}

# Only members of the vetted workgroup may dial endpoints under this contract,
# whatever their scope.
resource "agentmesh_contract" "vetted_only" {
  name                  = "vetted-only"
  owner_organization    = "markets-co"
  allowed_message_types = ["*"]
  required_workgroups   = [agentmesh_workgroup.vetted.name]
}
