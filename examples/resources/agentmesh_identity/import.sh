# Import an existing Ziti identity by its name (or its Ziti id). The next
# apply adds agentmesh's ownership tags (the plan shows managed: false -> true).
terraform import agentmesh_identity.markets_agent markets-agent
