package derive

import (
	"strings"

	"github.com/agentmesh/agentmesh/gateways"
)

// Names and types of the objects the derivation makes. They are part of
// what users see on the controller, so they never change.
const (
	// EndpointRole marks every endpoint and gateway service, so one
	// service-edge-router policy can cover them all.
	EndpointRole = "agentmesh-endpoint"
	// Names of the network-wide router policies agentmesh derives.
	RouterPolicyIdentities = "agentmesh.identities.all-routers"
	RouterPolicyEndpoints  = "agentmesh.endpoints.all-routers"

	EndpointConfigPrefix  = "agentmesh.endpoint."
	InterceptConfigPrefix = "agentmesh.intercept."
	HostConfigPrefix      = "agentmesh.host."
	// Ziti's own tunneller config types; they exist on every controller.
	InterceptType = "intercept.v1"
	HostType      = "host.v1"
)

func bindPolicyName(endpoint string) string { return "agentmesh.bind." + endpoint }
func dialPolicyName(endpoint, wg string) string {
	return "agentmesh.dial." + endpoint + "." + wg
}

// ApprovedRole is the role attribute an active approval gives its
// consumer; the Dial policies of an approval_required endpoint require it.
func ApprovedRole(endpointID string) string { return ApprovedRolePrefix + endpointID }

// ApprovedRolePrefix starts every approval's role attribute. It lies under
// the reserved agentmesh. prefix, so no user can set it.
const ApprovedRolePrefix = "agentmesh.approved."

// IsDerivedRole says whether a role attribute is the derivation's to
// write: a workgroup's or an approval's.
func IsDerivedRole(r string) bool {
	return strings.HasPrefix(r, "wg.") || strings.HasPrefix(r, ApprovedRolePrefix)
}

// DataPlaneService names the dark service through which one identity
// reaches one gateway. The edge router passes the dialer's CallerId
// through unverified, so the gateway learns who is calling from *which
// service* was dialed instead: each service is granted to exactly one
// identity by its own Dial policy.
func DataPlaneService(gateway, identityName string) string {
	return llmDataPlane + gateway + "." + identityName
}

// MCPDataPlaneService names the dark service through which one identity
// reaches an mcp gateway's front, for the same reason.
func MCPDataPlaneService(gateway, identityName string) string {
	return mcpDataPlane + gateway + "." + identityName
}

// DataPlaneServiceOf names an identity's data-plane service on a gateway
// of the given kind.
func DataPlaneServiceOf(kind, gateway, identityName string) string {
	if kind == gateways.KindMCP {
		return MCPDataPlaneService(gateway, identityName)
	}
	return DataPlaneService(gateway, identityName)
}

const (
	llmDataPlane = "agentmesh.llm."
	mcpDataPlane = "agentmesh.mcp."
)

// DataPlaneIntercept names the one intercept config all of a gateway's
// data-plane services carry: every identity dials the same address, and
// sees only its own service, so its tunneller has one claim on it.
func DataPlaneIntercept(gateway string) string { return "agentmesh.intercept.gw." + gateway }

// IsDataPlaneService says whether a gateway-owned service is a
// per-identity data-plane service (and not a control service).
func IsDataPlaneService(name string) bool {
	return strings.HasPrefix(name, llmDataPlane) || strings.HasPrefix(name, mcpDataPlane)
}

// DataPlaneKind is the gateway kind a data-plane service serves: llm or
// mcp ("" for any other service).
func DataPlaneKind(name string) string {
	switch {
	case strings.HasPrefix(name, llmDataPlane):
		return gateways.KindLLM
	case strings.HasPrefix(name, mcpDataPlane):
		return gateways.KindMCP
	}
	return ""
}

// DarkBindPolicy names the Bind policy of a gateway-owned service.
func DarkBindPolicy(service string) string { return "agentmesh.gw.bind." + service }

// DarkDialPolicy names the Dial policy of a gateway-owned service.
func DarkDialPolicy(service string) string { return "agentmesh.gw.dial." + service }

// IsDataPlanePolicy says whether a gateway-owned policy grants a
// data-plane service; those are derived, control-service ones are not.
func IsDataPlanePolicy(name string) bool {
	for _, svc := range []string{DarkBindPolicy(""), DarkDialPolicy("")} {
		if rest, ok := strings.CutPrefix(name, svc); ok && IsDataPlaneService(rest) {
			return true
		}
	}
	return false
}

// ControlService names a gateway agent's dark control service.
func ControlService(gateway string) string { return "agentmesh.ctl." + gateway }
