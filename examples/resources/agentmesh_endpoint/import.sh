# Import by the id of the endpoint's Ziti service.
terraform import agentmesh_endpoint.news_pulse 3bN8sHq1Lm
