# Import an MCP route by <gateway>/<namespace> (or its config id).
terraform import agentmesh_mcp_route.github macro-tools/github
