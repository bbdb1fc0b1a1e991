package reconciler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/config"
	"github.com/openziti/edge-api/rest_management_api_client/edge_router_policy"
	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_management_api_client/service_edge_router_policy"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/reconciler/controller"
	"github.com/agentmesh/agentmesh/reconciler/derive"
)

// Change is one write the engine makes to bring derived objects in line.
type Change struct {
	Action string // create | update | delete
	Kind   string // service-policy | identity-roles | service-configs | router-policy
	Name   string
	Detail string
	// Owner is the intent the derived object serves: endpoint/<service id>
	// or identity/<identity id>.
	Owner string
	apply func(context.Context) error
}

func (c Change) String() string {
	s := fmt.Sprintf("%-6s %-16s %s", c.Action, c.Kind, c.Name)
	if c.Detail != "" {
		s += "  (" + c.Detail + ")"
	}
	return s
}

// Plan is the outcome of one observe-and-compare: what would change, and
// whose access that changes.
type Plan struct {
	Changes  []Change
	Gained   []Grant
	Lost     []Grant
	Problems []string
	network  *Network
	// labels names the gateway services grants refer to, by id or
	// pending marker.
	labels map[string]string
}

// Observe reads the whole governed network: every intent and every derived
// object, one paged list per kind. It has no side effects besides filling
// the engine's snapshots.
func (e *Engine) Observe(ctx context.Context) (*Network, error) {
	return e.observe(ctx, true)
}

// observe is Observe, without the derived policies when policies is
// false: what roles are made of needs none of them.
func (e *Engine) observe(ctx context.Context, policies bool) (*Network, error) {
	e.resetSnapshots()
	n, err := e.observeMembers(ctx)
	if err != nil {
		return nil, err
	}
	n.Contracts, n.Endpoints = map[string]*Stored[Contract]{}, map[string]*ObservedEndpoint{}
	n.Policies, n.RouterPolicies = map[string]PolicySpec{}, map[string]bool{}
	n.Configs, n.ConfigNames = map[string]ObservedConfig{}, map[string]string{}
	n.Gateways, n.GatewayServices = map[string]*Stored[Gateway]{}, map[string]GatewayService{}
	cons, err := configsOf[Contract](ctx, e, kindContract)
	if err != nil {
		return nil, err
	}
	for _, c := range cons {
		n.Contracts[c.Value.Name] = c
	}
	eps, err := configsOf[Endpoint](ctx, e, kindEndpoint)
	if err != nil {
		return nil, err
	}
	byConfig := map[string]*Stored[Endpoint]{}
	for _, ep := range eps {
		byConfig[ep.ID] = ep
	}
	all, err := e.configs.all(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range all {
		oc := ObservedConfig{ID: deref(d.ID), Name: deref(d.Name), Data: d.Data}
		if d.ConfigType != nil {
			oc.TypeName = d.ConfigType.Name
		}
		// Earlier versions tagged a gateway's data-plane intercept config
		// "gateway", like gateway registrations.
		kind := tagOf(d.Tags, TagKind)
		oc.Derived = kind == "derived" || (kind == kindGatewayReg.label && oc.TypeName == kindIntercept.typeName)
		n.Configs[oc.Name] = oc
		n.ConfigNames[oc.ID] = oc.Name
	}
	svcs, err := e.services.all(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range svcs {
		if owner := tagOf(s.Tags, TagOwner); strings.HasPrefix(owner, "gateway/") {
			n.GatewayServices[deref(s.Name)] = GatewayService{ID: deref(s.ID), Owner: owner, Configs: sortedCopy(s.Configs), TableDigest: tagOf(s.Tags, TagTableDigest)}
		}
		for _, cid := range s.Configs {
			if ep, ok := byConfig[cid]; ok {
				n.Endpoints[deref(s.ID)] = &ObservedEndpoint{ServiceID: deref(s.ID), ConfigID: cid, Configs: sortedCopy(s.Configs), Endpoint: ep.Value}
			}
		}
	}
	gws, err := configsOf[Gateway](ctx, e, kindGatewayReg)
	if err != nil {
		return nil, err
	}
	for _, g := range gws {
		n.Gateways[g.Value.Name] = g
	}
	if n.LLMRoutes, err = configsOf[LLMRoute](ctx, e, kindLLMRoute); err != nil {
		return nil, err
	}
	if n.MCPRoutes, err = configsOf[MCPRoute](ctx, e, kindMCPRoute); err != nil {
		return nil, err
	}
	if n.Approvals, err = configsOf[Approval](ctx, e, kindApproval); err != nil {
		return nil, err
	}
	n.Now = time.Now()
	if err := e.observeNamedIdentities(ctx, n); err != nil {
		return nil, err
	}
	if !policies {
		return n, nil
	}

	pols, routers, err := e.derivedPolicies(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range pols {
		n.Policies[p.Name] = p
	}
	for _, r := range routers {
		n.RouterPolicies[r.Name] = true
	}
	return n, nil
}

// observeNamedIdentities adds the identities memberships and routes name
// that agentmesh did not create (so they are not in the managed list).
func (e *Engine) observeNamedIdentities(ctx context.Context, n *Network) error {
	// Memberships and routes may name identities agentmesh did not create.
	var named []string
	for _, m := range n.Memberships {
		named = append(named, m.Value.Identity)
	}
	for _, r := range n.LLMRoutes {
		named = append(named, r.Value.Identities...)
	}
	for _, r := range n.MCPRoutes {
		named = append(named, r.Value.Identities...)
	}
	for _, a := range n.Approvals {
		named = append(named, a.Value.Consumer)
	}
	tried := map[string]bool{}
	for _, id := range named {
		if _, ok := n.Identities[id]; !ok && !tried[id] {
			tried[id] = true
			if o, err := e.fetchIdentity(ctx, id); err == nil {
				n.Identities[o.ID] = o
			} else if !controller.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

// TagOwner names the intent a derived object belongs to.
const TagOwner = "agentmesh_owner"

// TagTableDigest, on a gateway's control service, records the digest of
// the last table its agent applied, so a plan can tell which gateways a
// change of audience has left behind.
const TagTableDigest = "agentmesh_table_digest"

func tagOf(t *rest_model.Tags, key string) string {
	if t == nil || t.SubTags[key] == nil {
		return ""
	}
	return fmt.Sprint(t.SubTags[key])
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// PlanChanges observes the network and computes what convergence would do,
// without doing it.
func (e *Engine) PlanChanges(ctx context.Context) (*Plan, error) {
	n, err := e.Observe(ctx)
	if err != nil {
		return nil, err
	}
	d := Derive(n)
	p := &Plan{Problems: d.Problems, network: n, labels: map[string]string{}}
	e.keepTables(d)

	p.Changes = append(p.Changes, e.roleChanges(n, d, derive.IsDerivedRole)...)
	// Derived tunneller configs, before the services that carry them.
	ids := map[string]string{} // config name -> id, completed as configs are created
	for name, oc := range n.Configs {
		ids[name] = oc.ID
	}
	for _, name := range slices.Sorted(maps.Keys(d.Configs)) {
		want := d.Configs[name]
		have, ok := n.Configs[name]
		switch {
		case !ok:
			p.Changes = append(p.Changes, Change{Action: "create", Kind: tunnellerKind(want.Type).label, Name: name, Owner: want.Owner,
				apply: func(ctx context.Context) error {
					id, err := e.createDerivedConfig(ctx, want)
					ids[name] = id
					return err
				}})
		case !sameJSON(have.Data, want.Data):
			p.Changes = append(p.Changes, Change{Action: "update", Kind: tunnellerKind(want.Type).label, Name: name, Owner: want.Owner,
				apply: func(ctx context.Context) error { return e.updateDerivedConfig(ctx, have.ID, want) }})
		}
	}
	// Endpoint service configs: the contract's terms and the tunneller
	// configs travel with the service.
	configIDs := func(names []string) ([]string, error) {
		out := make([]string, 0, len(names))
		for _, name := range names {
			id, ok := ids[name]
			if !ok {
				return nil, fmt.Errorf("config %s does not exist", name)
			}
			out = append(out, id)
		}
		return out, nil
	}
	// setConfigs plans the write that gives a service the configs want.
	setConfigs := func(sid, name, owner string, want []string) {
		p.Changes = append(p.Changes, Change{Action: "update", Kind: "service-configs", Name: name, Owner: owner, Detail: fmt.Sprintf("configs %v", want),
			apply: func(ctx context.Context) error {
				cfgs, err := configIDs(want)
				if err != nil {
					return err
				}
				return e.setServiceConfigs(ctx, sid, cfgs)
			}})
	}
	for _, sid := range slices.Sorted(maps.Keys(d.ServiceConfigs)) {
		if want := d.ServiceConfigs[sid]; !slices.Equal(configNames(n, n.Endpoints[sid].Configs), want) {
			setConfigs(sid, n.Endpoints[sid].Name, "endpoint/"+sid, want)
		}
	}
	// Gateways' data-plane services, before the policies that grant them.
	svcIDs := map[string]string{} // service name -> id, completed as services are created
	for name, gs := range n.GatewayServices {
		svcIDs[name] = gs.ID
	}
	for _, name := range slices.Sorted(maps.Keys(d.DarkServices)) {
		want := d.DarkServices[name]
		have, ok := n.GatewayServices[name]
		if !ok {
			p.Changes = append(p.Changes, Change{Action: "create", Kind: "service", Name: name, Owner: want.Owner, Detail: "data plane of gateway " + want.Gateway,
				apply: func(ctx context.Context) error {
					cfgs, err := configIDs(want.Configs)
					if err != nil {
						return err
					}
					id, err := e.createGatewayService(ctx, name, want.Owner, cfgs)
					svcIDs[name] = id
					return err
				}})
			continue
		}
		if !slices.Equal(configNames(n, have.Configs), want.Configs) {
			setConfigs(have.ID, name, want.Owner, want.Configs)
		}
	}
	// resolved fills in the ids of services this pass created.
	resolved := func(want PolicySpec) (PolicySpec, error) {
		roles := make([]string, len(want.ServiceRoles))
		for i, r := range want.ServiceRoles {
			roles[i] = r
			if name, ok := strings.CutPrefix(r, "@"+derive.PendingService); ok {
				id, ok := svcIDs[name]
				if !ok {
					return want, fmt.Errorf("service %s does not exist", name)
				}
				roles[i] = "@" + id
			}
		}
		want.ServiceRoles = roles
		return want, nil
	}
	// Service policies.
	for _, name := range slices.Sorted(maps.Keys(d.Policies)) {
		want := d.Policies[name]
		have, ok := n.Policies[name]
		switch {
		case !ok:
			p.Changes = append(p.Changes, Change{Action: "create", Kind: "service-policy", Name: name, Detail: policyDetail(want), Owner: want.Owner,
				apply: func(ctx context.Context) error {
					want, err := resolved(want)
					if err != nil {
						return err
					}
					return e.createPolicy(ctx, want)
				}})
		case !have.Same(want):
			p.Changes = append(p.Changes, Change{Action: "update", Kind: "service-policy", Name: name, Detail: policyDetail(want), Owner: want.Owner,
				apply: func(ctx context.Context) error {
					want, err := resolved(want)
					if err != nil {
						return err
					}
					return e.updatePolicy(ctx, have.ID, want)
				}})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(n.Policies)) {
		have := n.Policies[name]
		// The derivation owns endpoint and data-plane policies; a
		// gateway's control-service policies are kept with its
		// registration.
		if _, ok := d.Policies[name]; ok || (!strings.HasPrefix(have.Owner, "endpoint/") && !derive.IsDataPlanePolicy(name)) {
			continue
		}
		p.Changes = append(p.Changes, Change{Action: "delete", Kind: "service-policy", Name: name, Owner: have.Owner,
			apply: func(ctx context.Context) error { return e.deletePolicy(ctx, have.ID) }})
	}
	for _, name := range slices.Sorted(maps.Keys(n.GatewayServices)) {
		have := n.GatewayServices[name]
		if _, ok := d.DarkServices[name]; ok || !derive.IsDataPlaneService(name) {
			continue
		}
		p.Changes = append(p.Changes, Change{Action: "delete", Kind: "service", Name: name, Owner: have.Owner,
			apply: func(ctx context.Context) error { return e.dropDarkService(ctx, name, have.ID) }})
	}
	// Network-wide router policies, once there is anything to route.
	if len(n.Endpoints)+len(d.DarkServices) > 0 {
		if !n.RouterPolicies[RouterPolicyIdentities] {
			p.Changes = append(p.Changes, Change{Action: "create", Kind: "router-policy", Name: RouterPolicyIdentities, apply: e.createIdentityRouterPolicy})
		}
		if !n.RouterPolicies[RouterPolicyEndpoints] {
			p.Changes = append(p.Changes, Change{Action: "create", Kind: "router-policy", Name: RouterPolicyEndpoints, apply: e.createEndpointRouterPolicy})
		}
	}

	// Derived configs nothing wants any more go last, once no service
	// carries them.
	for _, name := range slices.Sorted(maps.Keys(n.Configs)) {
		oc := n.Configs[name]
		if _, ok := d.Configs[name]; !oc.Derived || ok {
			continue
		}
		p.Changes = append(p.Changes, Change{Action: "delete", Kind: "tunneller config", Name: name,
			apply: func(ctx context.Context) error { return e.deleteConfig(ctx, oc.ID, "config "+name) }})
	}

	// Tables last: a gateway is pushed once its data plane is right.
	for _, name := range slices.Sorted(maps.Keys(d.Tables)) {
		t := d.Tables[name]
		ctl, ok := n.GatewayServices[ControlService(name)]
		if !ok || ctl.TableDigest == t.Digest() || (ctl.TableDigest == "" && len(t.LLMRoutes)+len(t.MCPRoutes) == 0) {
			// A gateway without routes that never had a table is as
			// its agent starts: there is nothing to deliver.
			continue
		}
		p.Changes = append(p.Changes, Change{Action: "update", Kind: "gateway-table", Name: name, Owner: "gateway/" + name, Detail: "serves " + describeMembers(t),
			apply: func(ctx context.Context) error { return e.pushStale(ctx, t) }})
	}

	// Access diff: evaluate the policies now and after the changes.
	services := map[string]bool{}
	for sid := range n.Endpoints {
		services[sid] = true
	}
	for name, gs := range n.GatewayServices {
		if derive.IsDataPlaneService(name) {
			services[gs.ID] = true
			p.labels[gs.ID] = derive.DataPlaneKind(name) + " " + strings.TrimPrefix(gs.Owner, "gateway/")
		}
	}
	for name, ds := range d.DarkServices {
		if _, ok := n.GatewayServices[name]; !ok {
			services[derive.PendingService+name] = true
			p.labels[derive.PendingService+name] = derive.DataPlaneKind(name) + " " + ds.Gateway
		}
	}
	before := map[string][]string{}
	after := map[string][]string{}
	for id, o := range n.Identities {
		before[id] = append(slices.Clone(o.RoleAttributes), o.Reserved...)
		var keep []string
		for _, r := range before[id] {
			if !derive.IsDerivedRole(r) {
				keep = append(keep, r)
			}
		}
		after[id] = append(keep, d.Roles[id]...)
	}
	was, will := Access(n.Policies, before, services), Access(d.Policies, after, services)
	for g := range will {
		if !was[g] {
			p.Gained = append(p.Gained, g)
		}
	}
	for g := range was {
		if !will[g] {
			p.Lost = append(p.Lost, g)
		}
	}
	sortGrants(p.Gained)
	sortGrants(p.Lost)
	return p, nil
}

func describeMembers(t *gateways.Table) string {
	if len(t.Members) == 0 {
		return "nobody"
	}
	names := make([]string, len(t.Members))
	for i, m := range t.Members {
		names[i] = m.Identity
	}
	return strings.Join(names, ", ")
}

func policyDetail(p PolicySpec) string {
	return fmt.Sprintf("%s %s identities %s", p.Type, p.Semantic, strings.Join(p.IdentityRoles, ","))
}

func sortGrants(g []Grant) {
	sort.Slice(g, func(i, j int) bool {
		if g[i].Identity != g[j].Identity {
			return g[i].Identity < g[j].Identity
		}
		return g[i].Service < g[j].Service
	})
}

// Describe names a grant in human terms for review.
func (p *Plan) Describe(g Grant) string {
	who, what := g.Identity, g.Service
	if o, ok := p.network.Identities[g.Identity]; ok {
		who = o.Name
	}
	if ep, ok := p.network.Endpoints[g.Service]; ok {
		what = ep.Name
	} else if l, ok := p.labels[g.Service]; ok {
		what = l
	}
	return fmt.Sprintf("%s -> %s", who, what)
}

// Apply makes the changes. Each is idempotent; the first failure stops the
// run and is returned, and the next pass starts from a fresh observation.
func (e *Engine) Apply(ctx context.Context, p *Plan) error {
	for _, c := range p.Changes {
		e.log.InfoContext(ctx, "converging", "action", c.Action, "kind", c.Kind, "name", c.Name)
		if err := c.apply(ctx); err != nil {
			return fmt.Errorf("%s %s %s: %w", c.Action, c.Kind, c.Name, err)
		}
	}
	return nil
}

// Reconcile runs one full pass from a fresh observation: observe, compare,
// apply.
//
// Role attributes are read-modify-written on identities, so a writer in
// another process working from an older observation can drop a role this
// pass just set. When a pass changed roles, it is followed by a second
// one: any role lost to such a race is put back, from a fresh observation,
// before Reconcile returns.
func (e *Engine) Reconcile(ctx context.Context) (*Plan, error) {
	e.Reset()
	return e.reconcile(ctx)
}

// reconcile is one pass of a convergence: the passes of one apply share
// what does not change between them (the network-wide router policies).
func (e *Engine) reconcile(ctx context.Context) (*Plan, error) {
	p, err := e.PlanChanges(ctx)
	if err != nil {
		return nil, err
	}
	if e.beforeApply != nil {
		e.beforeApply()
	}
	if err := e.Apply(ctx, p); err != nil {
		return p, err
	}
	if !changesRoles(p) {
		return p, nil
	}
	again, err := e.verifyRoles(ctx)
	if err != nil {
		return p, err
	}
	if len(again) > 0 {
		e.log.InfoContext(ctx, "a concurrent writer changed workgroup roles; converging again", "changes", len(again))
		p.Changes = append(p.Changes, again...)
		return p, e.Apply(ctx, &Plan{Changes: again})
	}
	return p, nil
}

// roleChanges are the writes that give every identity the derived roles
// the derivation wants, of those owned says are in question.
func (e *Engine) roleChanges(n *Network, d *Desired, owned func(string) bool) []Change {
	var out []Change
	for _, id := range slices.Sorted(maps.Keys(n.Identities)) {
		o := n.Identities[id]
		var have, want []string
		for _, r := range o.Reserved {
			if owned(r) {
				have = append(have, r)
			}
		}
		for _, r := range d.Roles[id] {
			if owned(r) {
				want = append(want, r)
			}
		}
		sort.Strings(have)
		if slices.Equal(have, want) {
			continue
		}
		seen, _ := e.identities.peek(id)
		out = append(out, Change{Action: "update", Kind: "identity-roles", Name: o.Name, Owner: "identity/" + id,
			Detail: describeRoles(have, want, n),
			apply:  func(ctx context.Context) error { return e.setDerivedRoles(ctx, id, seen, want, owned) }})
	}
	return out
}

// describeRoles says how an identity's derived roles change, as a reader
// knows them: workgroups by name, approvals by their endpoint's name.
func describeRoles(have, want []string, n *Network) string {
	label, approvals := "workgroups", false
	names := func(roles []string) []string {
		out := make([]string, len(roles))
		for i, r := range roles {
			if sid, ok := strings.CutPrefix(r, derive.ApprovedRolePrefix); ok {
				approvals = true
				if ep, ok := n.Endpoints[sid]; ok {
					sid = ep.Name
				}
				out[i] = "approved for " + sid
				continue
			}
			out[i] = strings.TrimPrefix(r, "wg.")
		}
		return out
	}
	before, after := names(have), names(want)
	if approvals {
		label = "roles"
	}
	return fmt.Sprintf("%s %v -> %v", label, before, after)
}

// verifyRoles re-reads the network and puts back any derived role a
// concurrent writer dropped, or takes away one it put back.
func (e *Engine) verifyRoles(ctx context.Context) ([]Change, error) {
	e.resetSnapshots()
	n, err := e.observeMembers(ctx)
	if err != nil {
		return nil, err
	}
	if n.Approvals, err = configsOf[Approval](ctx, e, kindApproval); err != nil {
		return nil, err
	}
	if len(n.Approvals) > 0 {
		// Approval roles depend on endpoints, contracts and the time too,
		// and a writer racing this pass may have put a withdrawn one
		// back; derived policies play no part in roles.
		if n, err = e.observe(ctx, false); err != nil {
			return nil, err
		}
	} else if err := e.observeNamedIdentities(ctx, n); err != nil {
		return nil, err
	}
	// Without approvals no approval role is wanted: any one found is a
	// leftover, and goes.
	return e.roleChanges(n, derive.Derive(n), derive.IsDerivedRole), nil
}

// observeMembers reads what roles and audiences are made of: identities,
// workgroups and memberships (from the snapshots, loaded if need be).
func (e *Engine) observeMembers(ctx context.Context) (*Network, error) {
	n := &Network{Identities: map[string]*ObservedIdentity{}, Workgroups: map[string]*Stored[Workgroup]{}}
	ids, err := e.identities.all(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range ids {
		o := observeIdentity(d)
		n.Identities[o.ID] = o
	}
	wgs, err := configsOf[Workgroup](ctx, e, kindWorkgroup)
	if err != nil {
		return nil, err
	}
	for _, w := range wgs {
		n.Workgroups[w.Value.Name] = w
	}
	if n.Memberships, err = configsOf[Membership](ctx, e, kindMembership); err != nil {
		return nil, err
	}
	return n, nil
}

func changesRoles(p *Plan) bool {
	for _, c := range p.Changes {
		if c.Kind == "identity-roles" {
			return true
		}
	}
	return false
}

// setDerivedRoles writes an identity's derived roles (those owned says
// are in question), keeping its others.
// seen is the identity as this pass observed it: while nothing in this
// process has written the identity since (the snapshot still holds that
// very object), its other roles are known and the write needs no read.
// A writer in another process is caught by Reconcile's verify pass.
func (e *Engine) setDerivedRoles(ctx context.Context, id string, seen *rest_model.IdentityDetail, want []string, owned func(string) bool) error {
	defer e.locks.lock(id)()
	cur, ok := e.identities.peek(id)
	if !ok || cur != seen || seen == nil {
		resp, err := e.c.API.Identity.DetailIdentity(identity.NewDetailIdentityParamsWithContext(ctx).WithID(id), nil)
		if err != nil {
			return controller.Explain(err, "reading identity "+id)
		}
		cur = resp.Payload.Data
	}
	var roles rest_model.Attributes
	if cur.RoleAttributes != nil {
		for _, r := range *cur.RoleAttributes {
			if !owned(r) {
				roles = append(roles, r)
			}
		}
	}
	roles = append(roles, want...)
	sort.Strings(roles)
	_, err := e.c.API.Identity.PatchIdentity(identity.NewPatchIdentityParamsWithContext(ctx).WithID(id).WithIdentity(&rest_model.IdentityPatch{RoleAttributes: &roles}), nil)
	e.identities.forget(id)
	return controller.Explain(err, "setting derived roles on identity "+id)
}

func (e *Engine) createPolicy(ctx context.Context, p PolicySpec) error {
	_, err := e.c.API.ServicePolicy.CreateServicePolicy(service_policy.NewCreateServicePolicyParamsWithContext(ctx).WithPolicy(&rest_model.ServicePolicyCreate{
		Name: ptr(p.Name), Type: rest_model.DialBind(p.Type).Pointer(), Semantic: rest_model.Semantic(p.Semantic).Pointer(),
		IdentityRoles: p.IdentityRoles, ServiceRoles: p.ServiceRoles, PostureCheckRoles: rest_model.Roles{},
		Tags: ownTags("derived", TagOwner, p.Owner),
	}), nil)
	return controller.Explain(err, "creating service policy "+p.Name)
}

func (e *Engine) updatePolicy(ctx context.Context, id string, p PolicySpec) error {
	_, err := e.c.API.ServicePolicy.UpdateServicePolicy(service_policy.NewUpdateServicePolicyParamsWithContext(ctx).WithID(id).WithPolicy(&rest_model.ServicePolicyUpdate{
		Name: ptr(p.Name), Type: rest_model.DialBind(p.Type).Pointer(), Semantic: rest_model.Semantic(p.Semantic).Pointer(),
		IdentityRoles: p.IdentityRoles, ServiceRoles: p.ServiceRoles, PostureCheckRoles: rest_model.Roles{},
		Tags: ownTags("derived", TagOwner, p.Owner),
	}), nil)
	return controller.Explain(err, "updating service policy "+p.Name)
}

func (e *Engine) deletePolicy(ctx context.Context, id string) error {
	_, err := e.c.API.ServicePolicy.DeleteServicePolicy(service_policy.NewDeleteServicePolicyParamsWithContext(ctx).WithID(id), nil)
	if err = controller.Explain(err, "deleting service policy "+id); controller.IsNotFound(err) {
		return nil
	}
	return err
}

func (e *Engine) createIdentityRouterPolicy(ctx context.Context) error {
	defer e.routers.forget()
	_, err := e.c.API.EdgeRouterPolicy.CreateEdgeRouterPolicy(edge_router_policy.NewCreateEdgeRouterPolicyParamsWithContext(ctx).WithPolicy(&rest_model.EdgeRouterPolicyCreate{
		Name: ptr(RouterPolicyIdentities), Semantic: rest_model.SemanticAnyOf.Pointer(),
		IdentityRoles: rest_model.Roles{"#all"}, EdgeRouterRoles: rest_model.Roles{"#all"}, Tags: ownTags("derived", TagOwner, "network"),
	}), nil)
	return controller.Explain(err, "creating edge router policy "+RouterPolicyIdentities)
}

func (e *Engine) createEndpointRouterPolicy(ctx context.Context) error {
	defer e.routers.forget()
	_, err := e.c.API.ServiceEdgeRouterPolicy.CreateServiceEdgeRouterPolicy(service_edge_router_policy.NewCreateServiceEdgeRouterPolicyParamsWithContext(ctx).WithPolicy(&rest_model.ServiceEdgeRouterPolicyCreate{
		Name: ptr(RouterPolicyEndpoints), Semantic: rest_model.SemanticAnyOf.Pointer(),
		ServiceRoles: rest_model.Roles{"#" + EndpointRole}, EdgeRouterRoles: rest_model.Roles{"#all"}, Tags: ownTags("derived", TagOwner, "network"),
	}), nil)
	return controller.Explain(err, "creating service edge router policy "+RouterPolicyEndpoints)
}

// converger coalesces convergence requests: callers that arrive while a
// pass runs are all served by the next pass, so N parallel Terraform
// operations cost far fewer than N passes.
type converger struct {
	mu        sync.Mutex
	cond      *sync.Cond
	requested uint64
	done      uint64
	running   bool
	lastErr   error
	// writing counts intent writes in progress that will converge next.
	writing int
}

// intentWrite marks an intent write that ends in Converge; the returned
// func marks it done (call it before Converge).
func (e *Engine) intentWrite() func() {
	c := &e.conv
	c.mu.Lock()
	c.writing++
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.writing--
			c.mu.Unlock()
		})
	}
}

// gatherWindow lets operations Terraform starts together share one pass.
const gatherWindow = 60 * time.Millisecond

// gatherMore bounds the wait for writes under way.
const gatherMore = 100 * time.Millisecond

// Converge returns once a reconcile pass that started after this call has
// finished, with that pass's error.
func (e *Engine) Converge(ctx context.Context) error { return e.converge(ctx, gatherWindow) }

// converge is Converge with the time a pass it starts waits for more
// callers: none for a caller that waits on a running gateway anyway (a
// route change), which still shares any pass already running.
func (e *Engine) converge(ctx context.Context, gather time.Duration) error {
	c := &e.conv
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requested++
	mine := c.requested
	for c.done < mine {
		if c.running {
			c.cond.Wait()
			continue
		}
		c.running = true
		c.mu.Unlock()
		time.Sleep(gather)
		// Writes already under way will ask for a pass as soon as they
		// are done: wait for them (briefly), so one pass serves them all.
		c.mu.Lock()
		for deadline := time.Now().Add(gatherMore); c.writing > 0 && time.Now().Before(deadline); {
			c.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			c.mu.Lock()
		}
		target := c.requested
		c.mu.Unlock()
		p, err := e.reconcile(ctx)
		// Objects can vanish between a pass's observation and its writes
		// (Terraform destroys an endpoint while a membership converges):
		// the write is refused, and a pass from a fresh observation fixes it.
		for retry := 1; retry <= 3 && err != nil && !controller.Permanent(err) && !errors.Is(err, ErrInvalidIntent) && ctx.Err() == nil; retry++ {
			e.log.InfoContext(ctx, "convergence pass failed; observing again", "attempt", retry, "error", err.Error())
			time.Sleep(time.Duration(retry*50) * time.Millisecond)
			p, err = e.reconcile(ctx)
		}
		if err == nil && len(p.Problems) > 0 {
			e.log.WarnContext(ctx, "intents that grant nothing", "problems", strings.Join(p.Problems, "; "))
		}
		e.drift.reset()
		c.mu.Lock()
		c.running, c.done, c.lastErr = false, target, err
		c.cond.Broadcast()
	}
	return c.lastErr
}

// driftCache remembers, for one run, which intents have derived objects
// that differ from what they should be. Reads use it to show drift on
// derived objects as a plan diff; convergence clears it.
type driftCache struct {
	mu     sync.Mutex
	ready  bool
	owners map[string]bool
}

func (d *driftCache) reset() {
	d.mu.Lock()
	d.ready = false
	d.mu.Unlock()
}

// Drifted reports whether derived objects of an intent (endpoint/<id> or
// identity/<id>) need repair. The first call of a run plans the whole
// network once; later calls answer from memory.
func (e *Engine) Drifted(ctx context.Context, owner string) (bool, error) {
	e.drift.mu.Lock()
	defer e.drift.mu.Unlock()
	if !e.drift.ready {
		p, err := e.PlanChanges(ctx)
		if err != nil {
			return false, err
		}
		e.drift.owners = map[string]bool{}
		for _, c := range p.Changes {
			if c.Owner != "" {
				e.drift.owners[c.Owner] = true
			}
		}
		e.drift.ready = true
	}
	return e.drift.owners[owner], nil
}

func (e *Engine) createDerivedConfig(ctx context.Context, c DerivedConfig) (string, error) {
	typeID, err := e.configTypeID(ctx, tunnellerKind(c.Type))
	if err != nil {
		return "", err
	}
	resp, err := e.c.API.Config.CreateConfig(config.NewCreateConfigParamsWithContext(ctx).WithConfig(&rest_model.ConfigCreate{
		Name: ptr(c.Name), ConfigTypeID: ptr(typeID), Data: c.Data, Tags: ownTags("derived", TagOwner, c.Owner),
	}), nil)
	if err != nil {
		return "", controller.Explain(err, "creating config "+c.Name)
	}
	return resp.Payload.Data.ID, nil
}

func (e *Engine) updateDerivedConfig(ctx context.Context, id string, c DerivedConfig) error {
	_, err := e.c.API.Config.PatchConfig(config.NewPatchConfigParamsWithContext(ctx).WithID(id).WithConfig(&rest_model.ConfigPatch{
		Data: c.Data, Tags: ownTags("derived", TagOwner, c.Owner),
	}), nil)
	e.configs.forget(id)
	return controller.Explain(err, "updating config "+c.Name)
}

// SetBeforeApply installs a hook that runs between a pass's observation and
// its writes. Fault-injection tests use it to make another writer act in
// exactly that window.
func (e *Engine) SetBeforeApply(f func()) { e.beforeApply = f }

// configNames names the configs a service carries, sorted; one agentmesh
// does not know stays as its id, so it never matches a wanted name.
func configNames(n *Network, ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if name, ok := n.ConfigNames[id]; ok {
			out = append(out, name)
		} else {
			out = append(out, "id:"+id)
		}
	}
	sort.Strings(out)
	return out
}
