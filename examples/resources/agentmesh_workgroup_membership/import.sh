# Import a membership by <workgroup>/<identity name> (or its config id).
terraform import agentmesh_workgroup_membership.pulse_in_markets markets-channel/pulse-agent
