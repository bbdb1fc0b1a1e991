# Import an LLM route by <gateway>/<route name> (or its config id).
terraform import agentmesh_llm_route.analysis macro-llm/analysis
