# Import a contract by its name (or the id of its config).
terraform import agentmesh_contract.tight demo-contract-tight
