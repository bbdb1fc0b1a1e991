# Import by the id of the route's config.
terraform import agentmesh_mcp_route.github 1Rf5kVx9Lq
