# Import an approval by <endpoint>/<consumer identity name> (or its config id).
terraform import agentmesh_engagement_approval.pulse_on_equity equity-feed/pulse-agent
