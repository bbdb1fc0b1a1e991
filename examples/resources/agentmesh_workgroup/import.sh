# Import by the id of the workgroup's config on the controller
# (ziti edge list configs 'name = "agentmesh.workgroup.markets-channel"').
terraform import agentmesh_workgroup.markets_channel 2Hk0ZbO8aB
