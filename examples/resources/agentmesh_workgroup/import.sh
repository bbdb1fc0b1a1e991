# Import a workgroup by its name (or the id of its config on the controller).
terraform import agentmesh_workgroup.markets_channel markets-channel
