package reconciler

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/agentmesh/agentmesh/reconciler/controller"
	"github.com/agentmesh/agentmesh/reconciler/intent"
)

func normalizeWorkgroup(w *Workgroup) {
	w.ParticipatingOrganizations = sortedCopy(w.ParticipatingOrganizations)
}

// CreateWorkgroup stores a workgroup. Its name is unique on the network.
func (e *Engine) CreateWorkgroup(ctx context.Context, w *Workgroup) (*Stored[Workgroup], error) {
	normalizeWorkgroup(w)
	if err := w.Validate(); err != nil {
		return nil, err
	}
	s, err := createConfig(ctx, e, kindWorkgroup, w.Name, *w)
	if err != nil {
		return nil, err
	}
	// A new workgroup changes what is derived only if something already
	// names it (Terraform creates it before its members and endpoints).
	named, err := e.workgroupNamed(ctx, w.Name)
	if err != nil || !named {
		return s, err
	}
	return s, e.Converge(ctx)
}

// workgroupNamed says whether any membership, endpoint, contract or route
// names the workgroup.
func (e *Engine) workgroupNamed(ctx context.Context, name string) (bool, error) {
	ms, err := configsOf[Membership](ctx, e, kindMembership)
	if err != nil {
		return false, err
	}
	if slices.ContainsFunc(ms, func(m *Stored[Membership]) bool { return m.Value.Workgroup == name }) {
		return true, nil
	}
	eps, err := configsOf[Endpoint](ctx, e, kindEndpoint)
	if err != nil {
		return false, err
	}
	if slices.ContainsFunc(eps, func(ep *Stored[Endpoint]) bool { return slices.Contains(ep.Value.Workgroups, name) }) {
		return true, nil
	}
	cons, err := configsOf[Contract](ctx, e, kindContract)
	if err != nil {
		return false, err
	}
	if slices.ContainsFunc(cons, func(c *Stored[Contract]) bool { return slices.Contains(c.Value.RequiredWorkgroups, name) }) {
		return true, nil
	}
	routes, err := configsOf[LLMRoute](ctx, e, kindLLMRoute)
	if err != nil {
		return false, err
	}
	if slices.ContainsFunc(routes, func(r *Stored[LLMRoute]) bool { return slices.Contains(r.Value.Workgroups, name) }) {
		return true, nil
	}
	mcp, err := configsOf[MCPRoute](ctx, e, kindMCPRoute)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(mcp, func(r *Stored[MCPRoute]) bool { return slices.Contains(r.Value.Workgroups, name) }), nil
}

// ReadWorkgroup reads a workgroup by its config id.
func (e *Engine) ReadWorkgroup(ctx context.Context, id string) (*Stored[Workgroup], error) {
	return readKind[Workgroup](ctx, e, kindWorkgroup, id)
}

// FindWorkgroup looks a workgroup up by name.
func (e *Engine) FindWorkgroup(ctx context.Context, name string) (*Stored[Workgroup], error) {
	return findConfig[Workgroup](ctx, e, kindWorkgroup, name)
}

// UpdateWorkgroup changes description or participants; dropping a
// participant revokes what its members were granted, in the same call.
func (e *Engine) UpdateWorkgroup(ctx context.Context, id string, w *Workgroup) (*Stored[Workgroup], error) {
	normalizeWorkgroup(w)
	if err := w.Validate(); err != nil {
		return nil, err
	}
	s, err := updateConfig(ctx, e, kindWorkgroup, id, w.Name, *w)
	if err != nil {
		return nil, err
	}
	return s, e.Converge(ctx)
}

// DeleteWorkgroup refuses while endpoints or contracts reference it.
func (e *Engine) DeleteWorkgroup(ctx context.Context, id string) error {
	cur, err := e.ReadWorkgroup(ctx, id)
	if controller.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	name := cur.Value.Name
	users, err := e.endpointsUsing(ctx, func(ep *Endpoint) bool { return slices.Contains(ep.Workgroups, name) })
	if err != nil {
		return err
	}
	cons, err := configsOf[Contract](ctx, e, kindContract)
	if err != nil {
		return err
	}
	for _, c := range cons {
		if slices.Contains(c.Value.RequiredWorkgroups, name) {
			users = append(users, "contract "+c.Value.Name)
		}
	}
	if len(users) > 0 {
		return inUse(fmt.Sprintf("workgroup %q", name), users)
	}
	if err := e.deleteConfig(ctx, id, "workgroup "+name); err != nil {
		return err
	}
	return e.Converge(ctx)
}

func membershipKey(m *Membership) string { return m.Workgroup + "." + m.Identity }

// checkMembership refuses a membership whose identity's organisation takes
// no part in the workgroup.
func (e *Engine) checkMembership(ctx context.Context, m *Membership) error {
	if err := m.Validate(); err != nil {
		return err
	}
	wg, err := e.FindWorkgroup(ctx, m.Workgroup)
	if controller.IsNotFound(err) {
		return fmt.Errorf("%w: workgroup: %q does not exist", ErrInvalidIntent, m.Workgroup)
	}
	if err != nil {
		return err
	}
	id, err := e.ObserveIdentity(ctx, m.Identity)
	if controller.IsNotFound(err) {
		return fmt.Errorf("%w: identity: %s does not exist", ErrInvalidIntent, m.Identity)
	}
	if err != nil {
		return err
	}
	if !wg.Value.Admits(id.Organization) {
		org := id.Organization
		if org == "" {
			org = "(none)"
		}
		return fmt.Errorf("%w: identity: %q belongs to organisation %s, which is neither the owner (%s) nor a participant %v of workgroup %q; add the organisation to participating_organizations first",
			ErrInvalidIntent, id.Name, org, wg.Value.OwnerOrganization, wg.Value.ParticipatingOrganizations, wg.Value.Name)
	}
	return nil
}

// CreateMembership adds an identity to a workgroup and converges, so the
// identity's access changes before the call returns.
func (e *Engine) CreateMembership(ctx context.Context, m *Membership) (*Stored[Membership], error) {
	done := e.intentWrite()
	defer done()
	if err := e.checkMembership(ctx, m); err != nil {
		return nil, err
	}
	s, err := createConfig(ctx, e, kindMembership, membershipKey(m), *m)
	if err != nil {
		return nil, err
	}
	done()
	return s, e.Converge(ctx)
}

// ReadMembership reads a membership by its config id.
func (e *Engine) ReadMembership(ctx context.Context, id string) (*Stored[Membership], error) {
	return readKind[Membership](ctx, e, kindMembership, id)
}

// UpdateMembership changes the role; demoting the last admin is refused.
func (e *Engine) UpdateMembership(ctx context.Context, id string, m *Membership) (*Stored[Membership], error) {
	if err := e.checkMembership(ctx, m); err != nil {
		return nil, err
	}
	if m.Role != "admin" {
		if err := e.keepsAnAdmin(ctx, id, m.Workgroup); err != nil {
			return nil, err
		}
	}
	s, err := updateConfig(ctx, e, kindMembership, id, membershipKey(m), *m)
	if err != nil {
		return nil, err
	}
	return s, e.Converge(ctx)
}

// DeleteMembership removes the membership; removing the last admin of a
// workgroup that still has members is refused.
func (e *Engine) DeleteMembership(ctx context.Context, id string) error {
	cur, err := e.ReadMembership(ctx, id)
	if controller.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	done := e.leaving.start(id, cur.Value.Workgroup, cur.Value.Role == "admin")
	defer done()
	// Terraform destroys a workgroup's memberships in parallel, so the
	// other members may be leaving right now: give them a moment before
	// refusing to remove the last admin.
	deadline := time.Now().Add(departureGrace)
	for {
		err := e.keepsAnAdmin(ctx, id, cur.Value.Workgroup)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return err
		}
		if !e.leaving.waitMembers(ctx, cur.Value.Workgroup) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := e.deleteConfig(ctx, id, "membership"); err != nil {
		return err
	}
	return e.Converge(ctx)
}

const departureGrace = 3 * time.Second

// departures tracks membership deletions in flight in this process.
type departures struct {
	mu      sync.Mutex
	pending map[string]departure
}

type departure struct {
	workgroup string
	admin     bool
	done      chan struct{}
}

func (d *departures) start(id, workgroup string, admin bool) func() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pending == nil {
		d.pending = map[string]departure{}
	}
	dep := departure{workgroup: workgroup, admin: admin, done: make(chan struct{})}
	d.pending[id] = dep
	return func() {
		d.mu.Lock()
		delete(d.pending, id)
		d.mu.Unlock()
		close(dep.done)
	}
}

// waitMembers waits for the non-admin members of the workgroup that are
// leaving right now, and reports whether there were any. Admins never wait
// for each other, so two departing admins cannot deadlock.
func (d *departures) waitMembers(ctx context.Context, workgroup string) bool {
	d.mu.Lock()
	var chans []chan struct{}
	for _, dep := range d.pending {
		if dep.workgroup == workgroup && !dep.admin {
			chans = append(chans, dep.done)
		}
	}
	d.mu.Unlock()
	for _, ch := range chans {
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
	return len(chans) > 0
}

// keepsAnAdmin fails if the workgroup would have members but no admin once
// the membership `without` stops being an admin.
func (e *Engine) keepsAnAdmin(ctx context.Context, without, wg string) error {
	all, err := configsOf[Membership](ctx, e, kindMembership)
	if err != nil {
		return err
	}
	members, admins := 0, 0
	wasAdmin := false
	for _, m := range all {
		if m.Value.Workgroup != wg {
			continue
		}
		if m.ID == without {
			wasAdmin = m.Value.Role == "admin"
			continue
		}
		members++
		if m.Value.Role == "admin" {
			admins++
		}
	}
	if wasAdmin && members > 0 && admins == 0 {
		return fmt.Errorf("%w: workgroup %q would keep %d member(s) and no admin; make another member admin first", ErrInvalidIntent, wg, members)
	}
	return nil
}

func normalizeContract(c *Contract) {
	c.AllowedMessageTypes = sortedCopy(c.AllowedMessageTypes)
	c.RequiredWorkgroups = sortedCopy(c.RequiredWorkgroups)
	if c.AllowedMessageTypes == nil {
		c.AllowedMessageTypes = []string{}
	}
	if c.RequiredWorkgroups == nil {
		c.RequiredWorkgroups = []string{}
	}
}

// CreateContract stores contract terms; the controller validates them
// against the contract config type's schema too.
func (e *Engine) CreateContract(ctx context.Context, c *Contract) (*Stored[Contract], error) {
	normalizeContract(c)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := e.checkRequiredWorkgroups(ctx, c); err != nil {
		return nil, err
	}
	return createConfig(ctx, e, kindContract, c.Name, *c)
}

func (e *Engine) checkRequiredWorkgroups(ctx context.Context, c *Contract) error {
	var f intent.FieldErrs
	for _, w := range c.RequiredWorkgroups {
		if _, err := e.FindWorkgroup(ctx, w); controller.IsNotFound(err) {
			f.Add("required_workgroups", fmt.Errorf("workgroup %q does not exist", w))
		} else if err != nil {
			return err
		}
	}
	return f.Err()
}

// ReadContract reads a contract by its config id.
func (e *Engine) ReadContract(ctx context.Context, id string) (*Stored[Contract], error) {
	return readKind[Contract](ctx, e, kindContract, id)
}

// FindContract looks a contract up by name.
func (e *Engine) FindContract(ctx context.Context, name string) (*Stored[Contract], error) {
	return findConfig[Contract](ctx, e, kindContract, name)
}

// UpdateContract changes the terms; a change of required workgroups takes
// effect on every endpoint under the contract before the call returns.
func (e *Engine) UpdateContract(ctx context.Context, id string, c *Contract) (*Stored[Contract], error) {
	normalizeContract(c)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := e.checkRequiredWorkgroups(ctx, c); err != nil {
		return nil, err
	}
	s, err := updateConfig(ctx, e, kindContract, id, c.Name, *c)
	if err != nil {
		return nil, err
	}
	return s, e.Converge(ctx)
}

// DeleteContract refuses while an endpoint uses the contract.
func (e *Engine) DeleteContract(ctx context.Context, id string) error {
	cur, err := e.ReadContract(ctx, id)
	if controller.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	users, err := e.endpointsUsing(ctx, func(ep *Endpoint) bool { return ep.Contract == cur.Value.Name })
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return inUse(fmt.Sprintf("contract %q", cur.Value.Name), users)
	}
	return e.deleteConfig(ctx, id, "contract "+cur.Value.Name)
}

// readKind reads a config and checks it is of the expected kind, so an
// import of the wrong id fails clearly.
func readKind[T any](ctx context.Context, e *Engine, k *configKind, id string) (*Stored[T], error) {
	typeID, err := e.configTypeID(ctx, k)
	if err != nil {
		return nil, err
	}
	s, err := readConfig[T](ctx, e, id)
	if err != nil {
		return nil, err
	}
	if d, ok, _ := e.configs.get(ctx, id); ok && deref(d.ConfigTypeID) != typeID {
		return nil, fmt.Errorf("config %s is not a %s: %w", id, k.label, controller.ErrNotFound)
	}
	return s, nil
}
