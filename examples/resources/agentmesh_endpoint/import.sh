# Import an endpoint by its name, the name of its Ziti service (or the service id).
terraform import agentmesh_endpoint.news_pulse news-pulse
