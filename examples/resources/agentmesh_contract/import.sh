# Import by the id of the contract's config on the controller.
terraform import agentmesh_contract.tight 7aW3kLq0Zx
