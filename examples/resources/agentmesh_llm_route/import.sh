# Import by the id of the route's config.
terraform import agentmesh_llm_route.analysis 6Tz1bQv8Rk
