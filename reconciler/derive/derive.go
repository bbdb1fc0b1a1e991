package derive

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/reconciler/intent"
)

// Network is everything the engine reads from the controller in one pass:
// the intents and the derived objects that exist now.
type Network struct {
	Identities     map[string]*intent.ObservedIdentity         // by id
	Workgroups     map[string]*intent.Stored[intent.Workgroup] // by workgroup name
	Memberships    []*intent.Stored[intent.Membership]
	Contracts      map[string]*intent.Stored[intent.Contract] // by contract name
	Endpoints      map[string]*ObservedEndpoint               // by service id
	Policies       map[string]PolicySpec                      // derived service policies, by name
	RouterPolicies map[string]bool                            // derived router policies present, by name
	// Configs holds every agentmesh config by name: intents and derived
	// tunneller configs alike. ConfigNames maps their ids to names.
	Configs     map[string]ObservedConfig
	ConfigNames map[string]string
	// Gateways are the gateway registrations by name, with their routes.
	Gateways  map[string]*intent.Stored[intent.Gateway]
	LLMRoutes []*intent.Stored[intent.LLMRoute]
	MCPRoutes []*intent.Stored[intent.MCPRoute]
	// GatewayServices are the services gateways own, by name: each
	// gateway's control service and its per-identity data-plane services.
	GatewayServices map[string]GatewayService
	// Approvals let consumers reach approval_required endpoints.
	Approvals []*intent.Stored[intent.Approval]
	// Now is when the network was observed: approvals lapse against it,
	// so the same network always derives the same result.
	Now time.Time
}

// GatewayService is a service a gateway owns, as observed.
type GatewayService struct {
	ID      string
	Owner   string   // gateway/<name>
	Configs []string // config ids attached
	// TableDigest, on a control service, is the digest of the last table
	// the gateway's agent reported applied.
	TableDigest string
}

// DarkService is a per-identity data-plane service the derivation wants:
// Binder (the gateway agent's identity) alone binds it and Dialer (one
// audience identity) alone dials it.
type DarkService struct {
	Name, Gateway, Owner string
	Binder, Dialer       string   // identity ids
	Configs              []string // config names, sorted
}

// PendingService marks, in a derived policy's service roles, a service
// the same pass creates; its id replaces the marker when the policy is
// written.
const PendingService = "pending:"

// serviceRef is the role that selects a gateway service: its id once it
// exists, a pending marker until then.
func (n *Network) serviceRef(name string) string {
	if s, ok := n.GatewayServices[name]; ok {
		return "@" + s.ID
	}
	return "@" + PendingService + name
}

// ObservedConfig is a config as the derivation compares it.
type ObservedConfig struct {
	ID, Name, TypeName string
	Derived            bool
	Data               any
}

// DerivedConfig is a tunneller config the derivation wants.
type DerivedConfig struct {
	Name  string
	Type  string // the config type: InterceptType or HostType
	Data  map[string]any
	Owner string
}

// ObservedEndpoint is an endpoint: its service plus its metadata config.
type ObservedEndpoint struct {
	ServiceID string
	ConfigID  string
	Configs   []string // config ids attached to the service
	intent.Endpoint
	// Unenforced names its contract's terms nothing enforces on it. Only
	// a create or update fills it, from the contract it already read, so
	// the provider can warn without reading the contract again.
	Unenforced []string `json:"-"`
}

// PolicySpec is a service policy in the terms the derivation cares about.
type PolicySpec struct {
	Name          string
	ID            string // set when observed
	Type          string // Dial | Bind
	Semantic      string // AllOf | AnyOf
	IdentityRoles []string
	ServiceRoles  []string
	Owner         string // endpoint/<service id>
}

// Same says whether two policies grant the same thing.
func (p PolicySpec) Same(q PolicySpec) bool {
	return p.Type == q.Type && p.Semantic == q.Semantic && slices.Equal(p.IdentityRoles, q.IdentityRoles) && slices.Equal(p.ServiceRoles, q.ServiceRoles)
}

// Desired is what the derivation wants to exist.
type Desired struct {
	// Roles holds, for every identity that should have any, its sorted
	// derived role attributes: wg.<workgroup> for each membership and
	// agentmesh.approved.<endpoint id> for each active approval.
	Roles    map[string][]string
	Policies map[string]PolicySpec
	// ServiceConfigs is, by name, the config list each endpoint service
	// should carry.
	ServiceConfigs map[string][]string
	// Configs are the derived tunneller configs, by name.
	Configs map[string]DerivedConfig
	// DarkServices are the gateways' per-identity data-plane services,
	// by name; their Bind and Dial policies are in Policies.
	DarkServices map[string]DarkService
	// Tables are the gateways' route tables (Generation 0), by
	// gateway; TableErrors holds why a gateway has none.
	Tables      map[string]*gateways.Table
	TableErrors map[string]error
	// Problems are intents that grant nothing because they are invalid
	// against the rest of the network; they are reported, not applied.
	Problems []string
}

// Derive computes the derived objects from the intents. It is pure: the
// same network always gives the same result.
//
// An endpoint scoped to S1..Sn with a contract requiring R1..Rm is dialable
// by (members of S1 ∪ .. ∪ Sn) ∩ R1 ∩ .. ∩ Rm: one AllOf Dial policy per
// scope, each requiring #wg.S and every #wg.R. Under an approval_required
// contract each policy also requires #agentmesh.approved.<endpoint id>,
// the role every consumer with an active approval holds, so the
// controller itself checks all three. (An @id role would not do: Ziti
// grants identities named by id whatever the policy's semantic.)
func Derive(n *Network) *Desired {
	d := &Desired{Roles: map[string][]string{}, Policies: map[string]PolicySpec{}, ServiceConfigs: map[string][]string{}, Configs: map[string]DerivedConfig{},
		DarkServices: map[string]DarkService{}, Tables: map[string]*gateways.Table{}, TableErrors: map[string]error{}}

	for _, m := range n.Memberships {
		wg, ok := n.Workgroups[m.Value.Workgroup]
		if !ok {
			d.Problems = append(d.Problems, fmt.Sprintf("membership %s: workgroup %q does not exist; it grants nothing", m.Name, m.Value.Workgroup))
			continue
		}
		id, ok := n.Identities[m.Value.Identity]
		if !ok {
			d.Problems = append(d.Problems, fmt.Sprintf("membership %s: identity %s does not exist; it grants nothing", m.Name, m.Value.Identity))
			continue
		}
		if !wg.Value.Admits(id.Organization) {
			d.Problems = append(d.Problems, fmt.Sprintf("membership %s: organisation %q of identity %q takes no part in workgroup %q; it grants nothing", m.Name, id.Organization, id.Name, wg.Value.Name))
			continue
		}
		d.Roles[id.ID] = append(d.Roles[id.ID], "wg."+wg.Value.Name)
	}
	for sid, as := range activeApprovals(n, d) {
		for _, a := range as {
			d.Roles[a.Value.Consumer] = append(d.Roles[a.Value.Consumer], ApprovedRole(sid))
		}
	}
	for id, roles := range d.Roles {
		sort.Strings(roles)
		d.Roles[id] = slices.Compact(roles)
	}

	for _, sid := range slices.Sorted(maps.Keys(n.Endpoints)) {
		ep := n.Endpoints[sid]
		owner := "endpoint/" + sid
		con, ok := n.Contracts[ep.Contract]
		if !ok {
			d.Problems = append(d.Problems, fmt.Sprintf("endpoint %q: contract %q does not exist; nobody may dial it", ep.Name, ep.Contract))
		}
		if _, ok := n.Identities[ep.Host]; ok {
			d.Policies[bindPolicyName(ep.Name)] = PolicySpec{
				Name: bindPolicyName(ep.Name), Type: "Bind", Semantic: "AnyOf",
				IdentityRoles: []string{"@" + ep.Host}, ServiceRoles: []string{"@" + sid}, Owner: owner,
			}
		} else {
			d.Problems = append(d.Problems, fmt.Sprintf("endpoint %q: host identity %s does not exist; nobody can host it", ep.Name, ep.Host))
		}
		cfgs := []string{EndpointConfigPrefix + ep.Name}
		if ok {
			cfgs = append(cfgs, con.Name)
		}
		if i := ep.Intercept; i != nil {
			c := DerivedConfig{Name: InterceptConfigPrefix + ep.Name, Type: InterceptType, Owner: owner, Data: InterceptData(i)}
			d.Configs[c.Name] = c
			cfgs = append(cfgs, c.Name)
		}
		if h := ep.HostAddress; h != nil {
			c := DerivedConfig{Name: HostConfigPrefix + ep.Name, Type: HostType, Owner: owner, Data: map[string]any{
				"protocol": h.Protocol, "address": h.Address, "port": h.Port,
			}}
			d.Configs[c.Name] = c
			cfgs = append(cfgs, c.Name)
		}
		sort.Strings(cfgs)
		d.ServiceConfigs[sid] = cfgs
		if !ok {
			continue
		}
		required := slices.Clone(con.Value.RequiredWorkgroups)
		sort.Strings(required)
		for _, r := range required {
			if _, ok := n.Workgroups[r]; !ok {
				d.Problems = append(d.Problems, fmt.Sprintf("contract %q: required workgroup %q does not exist, so no identity qualifies", con.Value.Name, r))
			}
		}
		for _, s := range ep.Workgroups {
			if _, ok := n.Workgroups[s]; !ok {
				d.Problems = append(d.Problems, fmt.Sprintf("endpoint %q: workgroup %q does not exist; that scope grants nothing", ep.Name, s))
				continue
			}
			roles := []string{"#wg." + s}
			for _, r := range required {
				roles = append(roles, "#wg."+r)
			}
			if con.Value.AccessMode == "approval_required" {
				roles = append(roles, "#"+ApprovedRole(sid))
			}
			sort.Strings(roles)
			roles = slices.Compact(roles)
			name := dialPolicyName(ep.Name, s)
			d.Policies[name] = PolicySpec{Name: name, Type: "Dial", Semantic: "AllOf", IdentityRoles: roles, ServiceRoles: []string{"@" + sid}, Owner: owner}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(n.Gateways)) {
		deriveDataPlane(n, d, &n.Gateways[name].Value)
	}
	sort.Strings(d.Problems)
	d.Problems = slices.Compact(d.Problems)
	return d
}

// activeApprovals are, by endpoint service id, the approvals that grant
// something now. The others are reported: each says why it grants
// nothing.
func activeApprovals(n *Network, d *Desired) map[string][]*intent.Stored[intent.Approval] {
	out := map[string][]*intent.Stored[intent.Approval]{}
	for _, a := range n.Approvals {
		v := a.Value
		ep, ok := n.Endpoints[v.Endpoint]
		if !ok {
			d.Problems = append(d.Problems, fmt.Sprintf("approval %s: endpoint %s does not exist; it grants nothing", a.Name, v.Endpoint))
			continue
		}
		consumer, ok := n.Identities[v.Consumer]
		if !ok {
			d.Problems = append(d.Problems, fmt.Sprintf("approval of %s for endpoint %q: the identity does not exist; it grants nothing", v.Consumer, ep.Name))
			continue
		}
		who := consumer.Name
		host, ok := n.Identities[ep.Host]
		if !ok {
			d.Problems = append(d.Problems, fmt.Sprintf("approval of %s for endpoint %q: its host identity %s does not exist, so no organisation owns it; it grants nothing", who, ep.Name, ep.Host))
			continue
		}
		if host.Organization != v.Organization {
			d.Problems = append(d.Problems, fmt.Sprintf("approval of %s for endpoint %q: organisation %q does not own the endpoint (its host belongs to %q); it grants nothing", who, ep.Name, v.Organization, host.Organization))
			continue
		}
		if con, ok := n.Contracts[ep.Contract]; ok && con.Value.AccessMode != "approval_required" {
			d.Problems = append(d.Problems, fmt.Sprintf("approval of %s for endpoint %q: its contract %q is open, so the approval changes nothing", who, ep.Name, con.Value.Name))
			continue
		}
		if !v.ActiveAt(n.Now) {
			d.Problems = append(d.Problems, fmt.Sprintf("approval of %s for endpoint %q lapsed at %s; it grants nothing", who, ep.Name, v.ExpiresAt))
			continue
		}
		out[v.Endpoint] = append(out[v.Endpoint], a)
	}
	return out
}

// deriveDataPlane adds a gateway's table and, for every identity its
// routes serve, a dark data-plane service with its own Bind and Dial
// policies. An invalid table is reported and not pushed, but the data
// plane still follows the audience, so leaving it always revokes.
func deriveDataPlane(n *Network, d *Desired, g *intent.Gateway) {
	owner := "gateway/" + g.Name
	table := LLMTable
	if g.Kind == gateways.KindMCP {
		table = MCPTable
	}
	t, audience, problems, err := table(n, g)
	d.Problems = append(d.Problems, problems...)
	if err != nil {
		d.TableErrors[g.Name] = err
		d.Problems = append(d.Problems, fmt.Sprintf("gateway %q: %v; its table is not pushed", g.Name, err))
	} else {
		d.Tables[g.Name] = t
	}
	if _, ok := n.Identities[g.Identity]; !ok {
		d.Problems = append(d.Problems, fmt.Sprintf("gateway %q: its identity %s does not exist; nobody can host its data plane", g.Name, g.Identity))
		return
	}
	var cfgs []string
	if i := g.DataPlaneIntercept(); i != nil && len(audience) > 0 {
		c := DerivedConfig{Name: DataPlaneIntercept(g.Name), Type: InterceptType, Owner: owner, Data: InterceptData(i)}
		d.Configs[c.Name] = c
		cfgs = []string{c.Name}
	}
	for id, who := range audience {
		svc := DataPlaneServiceOf(g.Kind, g.Name, who)
		d.DarkServices[svc] = DarkService{Name: svc, Gateway: g.Name, Owner: owner, Binder: g.Identity, Dialer: id, Configs: cfgs}
		ref := n.serviceRef(svc)
		for _, p := range []PolicySpec{
			{Name: DarkBindPolicy(svc), Type: "Bind", Semantic: "AnyOf", IdentityRoles: []string{"@" + g.Identity}, ServiceRoles: []string{ref}, Owner: owner},
			{Name: DarkDialPolicy(svc), Type: "Dial", Semantic: "AnyOf", IdentityRoles: []string{"@" + id}, ServiceRoles: []string{ref}, Owner: owner},
		} {
			d.Policies[p.Name] = p
		}
	}
}

// InterceptData is an intercept as Ziti's intercept.v1 config holds it.
func InterceptData(i *intent.Intercept) map[string]any {
	return map[string]any{
		"protocols": sortedCopy(i.Protocols), "addresses": sortedCopy(i.Addresses),
		"portRanges": []any{map[string]any{"low": i.Port, "high": i.Port}},
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// Grant is one identity allowed to dial one endpoint service.
type Grant struct{ Identity, Service string }

// Access evaluates Dial policies over identities' role attributes the way
// the controller does: #role and @id selectors, AllOf or AnyOf.
func Access(policies map[string]PolicySpec, roles map[string][]string, services map[string]bool) map[Grant]bool {
	out := map[Grant]bool{}
	for _, p := range policies {
		if p.Type != "Dial" {
			continue
		}
		var svcs []string
		for _, r := range p.ServiceRoles {
			if s, ok := strings.CutPrefix(r, "@"); ok && services[s] {
				svcs = append(svcs, s)
			}
		}
		for id, attrs := range roles {
			if matches(p.Semantic, p.IdentityRoles, id, attrs) {
				for _, s := range svcs {
					out[Grant{id, s}] = true
				}
			}
		}
	}
	return out
}

func matches(semantic string, selectors []string, id string, attrs []string) bool {
	if len(selectors) == 0 {
		return false
	}
	hit := func(sel string) bool {
		if sel == "#all" {
			return true
		}
		if r, ok := strings.CutPrefix(sel, "#"); ok {
			return slices.Contains(attrs, r)
		}
		if r, ok := strings.CutPrefix(sel, "@"); ok {
			return r == id
		}
		return false
	}
	if semantic == "AnyOf" {
		return slices.ContainsFunc(selectors, hit)
	}
	for _, s := range selectors {
		if !hit(s) {
			return false
		}
	}
	return true
}
