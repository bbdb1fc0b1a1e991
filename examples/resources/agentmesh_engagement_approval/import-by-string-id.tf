# With an import block (Terraform and OpenTofu 1.5 and later), by the same
# readable id: plan shows what would be imported, and apply takes it over.
import {
  to = agentmesh_engagement_approval.pulse_on_equity
  id = "equity-feed/pulse-agent"
}
