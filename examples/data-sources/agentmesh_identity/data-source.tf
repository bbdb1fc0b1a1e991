data "agentmesh_identity" "pulse" {
  name = "pulse-agent"
}

output "pulse_enrolled" {
  value = data.agentmesh_identity.pulse.enrolled
}
