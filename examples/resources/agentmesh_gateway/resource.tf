# The gateway agent runs beside llm-gateway with this identity; llm-gateway
# itself listens on loopback only.
resource "agentmesh_identity" "llm_gateway" {
  name         = "llm-gateway"
  organization = "macro-co"
  kind         = "gateway"
}

resource "agentmesh_gateway" "llm" {
  name           = "macro-llm"
  identity       = agentmesh_identity.llm_gateway.id
  listen         = "127.0.0.1:8080"
  local_base_url = "http://127.0.0.1:11434" # e.g. Ollama
}
