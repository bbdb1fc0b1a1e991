# An agent of the markets-co organisation. Its enrollment token is
# sensitive: hand it to the agent's host through a secret store.
resource "agentmesh_identity" "markets_agent" {
  name            = "markets-agent"
  organization    = "markets-co"
  kind            = "agent"
  role_attributes = ["equities", "eu"]
  tags = {
    owner = "markets-platform"
  }
}

# Revoke at once, without deleting the identity:
resource "agentmesh_identity" "retired_agent" {
  name         = "retired-agent"
  organization = "markets-co"
  disabled     = true
}
