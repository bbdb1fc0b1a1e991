# An agent whose enrollment token never reaches the state: the identity keeps
# no copy, and the ephemeral resource hands the token to the provisioner that
# enrolls the agent on its host. An expired, unused token is replaced by a
# fresh one on the next run, without replacing the identity.
resource "agentmesh_identity" "pulse_agent" {
  name                = "pulse-agent"
  organization        = "analytics-co"
  keep_enrollment_jwt = false
}

ephemeral "agentmesh_enrollment_token" "pulse_agent" {
  identity    = agentmesh_identity.pulse_agent.id
  ttl_minutes = 30
}

resource "terraform_data" "enroll_pulse_agent" {
  triggers_replace = [agentmesh_identity.pulse_agent.id]
  provisioner "local-exec" {
    command     = "umask 077; printf %s \"$JWT\" > pulse-agent.jwt && ziti edge enroll -j pulse-agent.jwt -o pulse-agent.json && rm pulse-agent.jwt"
    environment = { JWT = ephemeral.agentmesh_enrollment_token.pulse_agent.jwt }
  }
}
