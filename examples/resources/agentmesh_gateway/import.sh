# Import by the id of the gateway registration's config.
terraform import agentmesh_gateway.llm 4Kq9sWm2Xe
