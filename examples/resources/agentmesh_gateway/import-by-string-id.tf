# With an import block (Terraform and OpenTofu 1.5 and later), by the same
# readable id: plan shows what would be imported, and apply takes it over.
import {
  to = agentmesh_gateway.llm
  id = "macro-llm"
}
