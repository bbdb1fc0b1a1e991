package derive

import (
	"slices"
	"sort"
	"strings"

	"github.com/agentmesh/agentmesh/gateways"
)

// Reason says which intent lets one identity reach one service: the same
// rules Derive turns into policies, read backwards. The audit trail stamps
// it on every dial, so "why could X reach Y" is answered by the intent in
// force when it happened, not by today's.
type Reason struct {
	// Kind is "endpoint" or "gateway"; Name is the endpoint's or the
	// gateway's name.
	Kind, Name string
	// Organization owns the service: the endpoint host's organisation, or
	// the gateway's.
	Organization string
	// Workgroups are the memberships that grant it: the endpoint scope
	// followed by the contract's required workgroups, or the workgroups
	// through which an LLM route serves the identity.
	Workgroups []string `json:",omitempty"`
	Contract   string   `json:",omitempty"`
	// Approval is the name of the approval config an approval_required
	// contract needed.
	Approval string `json:",omitempty"`
	// Routes are the gateway routes that serve the identity: LLM route
	// names, or MCP route namespaces.
	Routes []string `json:",omitempty"`
}

// ServiceOf names a service the way people know it, whether or not the
// identity may reach it: endpoint or gateway, and its owner. ok is false
// for a service agentmesh does not know.
func ServiceOf(n *Network, serviceID string) (Reason, bool) {
	if ep, ok := n.Endpoints[serviceID]; ok {
		r := Reason{Kind: "endpoint", Name: ep.Name, Contract: ep.Contract}
		if h, ok := n.Identities[ep.Host]; ok {
			r.Organization = h.Organization
		}
		return r, true
	}
	for _, gs := range n.GatewayServices {
		if gs.ID != serviceID {
			continue
		}
		name := strings.TrimPrefix(gs.Owner, "gateway/")
		r := Reason{Kind: "gateway", Name: name}
		if g, ok := n.Gateways[name]; ok {
			r.Organization = g.Value.Organization
			if r.Organization == "" {
				if o, ok := n.Identities[g.Value.Identity]; ok {
					r.Organization = o.Organization
				}
			}
		}
		return r, true
	}
	return Reason{}, false
}

// Why returns the reason identityID may dial serviceID under n, and false
// when the intent grants no such access.
func Why(n *Network, identityID, serviceID string) (Reason, bool) {
	r, ok := ServiceOf(n, serviceID)
	if !ok {
		return r, false
	}
	id, ok := n.Identities[identityID]
	if !ok || id.Disabled {
		return r, false
	}
	if r.Kind == "gateway" {
		return whyGateway(n, r, identityID, serviceID)
	}
	ep := n.Endpoints[serviceID]
	member := memberOf(n, identityID)
	con, ok := n.Contracts[ep.Contract]
	if !ok {
		return r, false
	}
	required := slices.Clone(con.Value.RequiredWorkgroups)
	sort.Strings(required)
	for _, wg := range required {
		if !member[wg] {
			return r, false
		}
	}
	if con.Value.AccessMode == "approval_required" {
		for _, a := range n.Approvals {
			if a.Value.Endpoint == serviceID && a.Value.Consumer == identityID && a.Value.ActiveAt(n.Now) {
				if h, ok := n.Identities[ep.Host]; ok && h.Organization == a.Value.Organization {
					r.Approval = a.Name
				}
			}
		}
		if r.Approval == "" {
			return r, false
		}
	}
	for _, s := range slices.Sorted(slices.Values(ep.Workgroups)) {
		if member[s] {
			r.Workgroups = slices.Compact(append([]string{s}, required...))
			return r, true
		}
	}
	return r, false
}

func whyGateway(n *Network, r Reason, identityID, serviceID string) (Reason, bool) {
	r.Contract = ""
	g, ok := n.Gateways[r.Name]
	if !ok {
		return r, false
	}
	member := memberOf(n, identityID)
	name := n.Identities[identityID].Name
	if gs, ok := n.GatewayServices[DataPlaneServiceOf(g.Value.Kind, r.Name, name)]; !ok || gs.ID != serviceID {
		return r, false // another identity's data plane, or a control service
	}
	type route struct {
		name                   string
		workgroups, identities []string
	}
	var routes []route
	for _, rt := range n.LLMRoutes {
		if rt.Value.Gateway == r.Name && g.Value.Kind == gateways.KindLLM {
			routes = append(routes, route{rt.Value.Name, rt.Value.Workgroups, rt.Value.Identities})
		}
	}
	for _, rt := range n.MCPRoutes {
		if rt.Value.Gateway == r.Name && g.Value.Kind == gateways.KindMCP {
			routes = append(routes, route{rt.Value.Namespace, rt.Value.Workgroups, rt.Value.Identities})
		}
	}
	for _, rt := range routes {
		served := slices.Contains(rt.identities, identityID)
		for _, wg := range rt.workgroups {
			if member[wg] {
				served = true
				r.Workgroups = append(r.Workgroups, wg)
			}
		}
		if served {
			r.Routes = append(r.Routes, rt.name)
		}
	}
	sort.Strings(r.Routes)
	sort.Strings(r.Workgroups)
	r.Workgroups = slices.Compact(r.Workgroups)
	return r, len(r.Routes) > 0
}

// memberOf is the set of workgroups whose membership counts for the
// identity: the workgroup exists and admits its organisation.
func memberOf(n *Network, identityID string) map[string]bool {
	out := map[string]bool{}
	id, ok := n.Identities[identityID]
	if !ok {
		return out
	}
	for _, m := range n.Memberships {
		if m.Value.Identity != identityID {
			continue
		}
		if wg, ok := n.Workgroups[m.Value.Workgroup]; ok && wg.Value.Admits(id.Organization) {
			out[m.Value.Workgroup] = true
		}
	}
	return out
}

// LiveAccess is who may dial what on the network as observed: the
// policies that exist evaluated over the roles identities hold, endpoint
// and data-plane services alike. A disabled identity cannot
// authenticate, so it reaches nothing whatever its roles.
func LiveAccess(n *Network) map[Grant]bool {
	services := map[string]bool{}
	for sid := range n.Endpoints {
		services[sid] = true
	}
	for name, gs := range n.GatewayServices {
		if IsDataPlaneService(name) {
			services[gs.ID] = true
		}
	}
	roles := map[string][]string{}
	for id, o := range n.Identities {
		if !o.Disabled {
			roles[id] = append(slices.Clone(o.RoleAttributes), o.Reserved...)
		}
	}
	return Access(n.Policies, roles, services)
}
