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
  # Agents' tunnellers reach the gateway at http://llm.macro.ziti, each
  # through its own dark service.
  intercept_address = "llm.macro.ziti"
  # Requests with model "auto" are routed by the routes' descriptions.
  semantic_provider = "local"
  semantic_model    = "nomic-embed-text"
  default_route     = "analysis"
}

# Hosted providers: the key is write-only. It is never stored in the state or
# on the controller; it travels once, over the agent's dark control service,
# and the agent keeps it on the gateway host (mode 0600). Feed it from an
# ephemeral variable or an ephemeral resource, and raise
# api_keys_wo_version to send a new key.
variable "openai_api_key" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "agentmesh_gateway" "hosted" {
  name                = "macro-hosted"
  identity            = agentmesh_identity.llm_gateway.id
  listen              = "127.0.0.1:8081"
  openai_api_key_wo   = var.openai_api_key
  api_keys_wo_version = 1
}
