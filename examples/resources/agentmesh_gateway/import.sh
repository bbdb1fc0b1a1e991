# Import a gateway by its name (or the id of its registration config).
terraform import agentmesh_gateway.llm macro-llm
