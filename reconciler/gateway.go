package reconciler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/current_identity"
	"github.com/openziti/edge-api/rest_management_api_client/service"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/control"
	"github.com/agentmesh/agentmesh/reconciler/controller"
	"github.com/agentmesh/agentmesh/reconciler/derive"
)

// ErrGatewayDown means the gateway agent did not answer a push in time;
// the intent is recorded and the next push delivers it.
var ErrGatewayDown = errors.New("gateway agent not answering")

var (
	kindGatewayReg = &configKind{typeName: "agentmesh.gateway.v1", prefix: "agentmesh.gateway.", label: "gateway",
		schema: strictObj([]string{"name", "kind", "identity"}, map[string]any{
			"name": orgSchema, "kind": map[string]any{"enum": []string{gateways.KindLLM, gateways.KindMCP}}, "identity": map[string]any{"type": "string", "minLength": 1},
			"organization": map[string]any{"type": "string"}, "listen": map[string]any{"type": "string", "minLength": 1},
			"local_base_url": map[string]any{"type": "string"},
			"hosted": map[string]any{"type": "array", "items": strictObj([]string{"provider"}, map[string]any{
				"provider": map[string]any{"enum": []string{"open_ai", "anthropic"}}, "base_url": map[string]any{"type": "string"},
			})},
			"secrets_version":   limit,
			"intercept_address": map[string]any{"type": "string"}, "intercept_port": port,
			"semantic": strictObj([]string{"provider", "model"}, map[string]any{
				"provider": map[string]any{"enum": []string{"local", "openai"}}, "model": map[string]any{"type": "string", "minLength": 1},
				"threshold": map[string]any{"type": "number", "minimum": 0, "maximum": 1},
			}),
			"default_route": map[string]any{"type": "string"},
			"mcp": strictObj([]string{}, map[string]any{
				"name": map[string]any{"type": "string"}, "version": map[string]any{"type": "string"}, "separator": map[string]any{"type": "string"},
				"share_token_set": map[string]any{"type": "boolean"}, "heartbeat_interval": map[string]any{"type": "string"},
				"connect_timeout": map[string]any{"type": "string"}, "call_timeout": map[string]any{"type": "string"},
			}),
		})}
	kindLLMRoute = &configKind{typeName: "agentmesh.llm-route.v1", prefix: "agentmesh.llm-route.", label: "llm route",
		schema: strictObj([]string{"gateway", "name", "model"}, map[string]any{
			"gateway": orgSchema, "name": orgSchema, "model": map[string]any{"type": "string", "minLength": 1},
			"description": map[string]any{"type": "string"}, "examples": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"workgroups": nameSet, "identities": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"budget_tokens": limit, "budget_period": map[string]any{"enum": []string{"", "hour", "day", "month"}},
			"heuristics": map[string]any{"type": "array", "items": strictObj([]string{"keywords"}, map[string]any{
				"keywords": map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"type": "string", "minLength": 1}},
				"exclude":  map[string]any{"type": "array", "items": map[string]any{"type": "string", "minLength": 1}},
			})},
		})}
	kindMCPRoute = &configKind{typeName: "agentmesh.mcp-route.v1", prefix: "agentmesh.mcp-route.", label: "mcp route",
		schema: strictObj([]string{"gateway", "namespace", "type", "tools_mode"}, map[string]any{
			"gateway": orgSchema, "namespace": orgSchema, "type": map[string]any{"enum": []string{"stdio", "http", "https", "zrok"}},
			"command": map[string]any{"type": "string"}, "args": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"working_dir": map[string]any{"type": "string"},
			"endpoint":    map[string]any{"type": "string"}, "protocol": map[string]any{"type": "string"},
			"allow_insecure": map[string]any{"type": "boolean"}, "tls_insecure_skip_verify": map[string]any{"type": "boolean"}, "tls_ca_cert_file": map[string]any{"type": "string"},
			"env": stringMap, "headers": stringMap, "secret_env": stringList, "secret_headers": stringList, "secret_share_token": map[string]any{"type": "boolean"},
			"secrets_version": limit,
			"tools_mode":      map[string]any{"enum": []string{"allow", "deny"}}, "tools": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"workgroups": nameSet, "identities": map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		})}
)

var (
	stringMap  = map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}
	stringList = map[string]any{"type": "array", "items": map[string]any{"type": "string", "minLength": 1}}
)

// CreateGateway records the gateway and makes its dark control service,
// dialable only by the identity this engine runs as.
func (e *Engine) CreateGateway(ctx context.Context, g *Gateway) (*Stored[Gateway], error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if _, err := e.ObserveIdentity(ctx, g.Identity); controller.IsNotFound(err) {
		return nil, fmt.Errorf("%w: identity: %s does not exist", ErrInvalidIntent, g.Identity)
	}
	me, err := e.selfID(ctx)
	if err != nil {
		return nil, err
	}
	s, err := createConfig(ctx, e, kindGatewayReg, g.Name, *g)
	if err != nil {
		return nil, err
	}
	if _, err := e.EnsureControlService(ctx, g.Name, g.Identity, me); err != nil {
		return s, err
	}
	return s, nil
}

func (e *Engine) selfID(ctx context.Context) (string, error) {
	r, err := e.c.API.CurrentIdentity.GetCurrentIdentity(current_identity.NewGetCurrentIdentityParamsWithContext(ctx), nil)
	if err != nil {
		return "", controller.Explain(err, "reading the provider's own identity")
	}
	return deref(r.Payload.Data.ID), nil
}

// ReadGateway reads a gateway registration by config id.
func (e *Engine) ReadGateway(ctx context.Context, id string) (*Stored[Gateway], error) {
	return readKind[Gateway](ctx, e, kindGatewayReg, id)
}

// DeleteGateway removes the registration, its control service and data
// plane; routes still on it make this fail.
func (e *Engine) DeleteGateway(ctx context.Context, id string) error {
	g, err := e.ReadGateway(ctx, id)
	if controller.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	routes, err := e.routesOf(ctx, g.Value.Name)
	if err != nil {
		return err
	}
	mcp, err := e.mcpRoutesOf(ctx, g.Value.Name)
	if err != nil {
		return err
	}
	if len(routes)+len(mcp) > 0 {
		var names []string
		for _, r := range routes {
			names = append(names, r.Value.Name)
		}
		for _, r := range mcp {
			names = append(names, r.Value.Namespace)
		}
		return inUse(fmt.Sprintf("gateway %q", g.Value.Name), names)
	}
	if s, err := e.findService(ctx, ControlService(g.Value.Name)); err == nil {
		if err := e.dropDarkService(ctx, ControlService(g.Value.Name), deref(s.ID)); err != nil {
			return err
		}
	}
	if err := e.deleteConfig(ctx, id, "gateway "+g.Value.Name); err != nil {
		return err
	}
	// Whatever data plane is left belongs to no gateway: the derivation
	// removes it.
	return e.Converge(ctx)
}

func (e *Engine) routesOf(ctx context.Context, gateway string) ([]*Stored[LLMRoute], error) {
	all, err := configsOf[LLMRoute](ctx, e, kindLLMRoute)
	if err != nil {
		return nil, err
	}
	var out []*Stored[LLMRoute]
	for _, r := range all {
		if r.Value.Gateway == gateway {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value.Name < out[j].Value.Name })
	return out, nil
}

func routeKey(r *LLMRoute) string { return r.Gateway + "." + r.Name }

// CreateLLMRoute records the route and returns once the running gateway
// reports the new generation applied.
func (e *Engine) CreateLLMRoute(ctx context.Context, r *LLMRoute) (*Stored[LLMRoute], gateways.Report, error) {
	if _, err := findConfig[Gateway](ctx, e, kindGatewayReg, r.Gateway); controller.IsNotFound(err) {
		return nil, gateways.Report{}, fmt.Errorf("%w: gateway: %q does not exist", ErrInvalidIntent, r.Gateway)
	}
	if err := e.checkRouteWorkgroups(ctx, r); err != nil {
		return nil, gateways.Report{}, err
	}
	s, err := createConfig(ctx, e, kindLLMRoute, routeKey(r), *r)
	if err != nil {
		return nil, gateways.Report{}, err
	}
	rep, err := e.PushGateway(ctx, r.Gateway)
	return s, rep, err
}

// CheckLLMRoute says, before anything is written, whether the route's
// gateway exists and can serve its model. It answers nil when the gateway
// is not registered yet (it may be created in the same apply).
func (e *Engine) CheckLLMRoute(ctx context.Context, gateway, model string) error {
	g, err := findConfig[Gateway](ctx, e, kindGatewayReg, gateway)
	if controller.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	p := gateways.ProviderFor(model)
	if (p == "local" && g.Value.LocalBaseURL == "") || (p != "local" && g.Value.HostedCreds(p) == nil) {
		return fmt.Errorf("%w: llm-gateway sends model %q to provider %s, which gateway %q does not configure (it has %s)", gateways.ErrUnsupported, model, p, gateway, describeProviders(g.Value))
	}
	return nil
}

func describeProviders(g Gateway) string {
	var have []string
	for _, h := range g.Hosted {
		have = append(have, h.Provider)
	}
	if g.LocalBaseURL != "" {
		have = append(have, "local at "+g.LocalBaseURL)
	}
	if len(have) == 0 {
		return "no provider"
	}
	return strings.Join(have, ", ")
}

// RouteWarnings says, before anything is written, what a route would serve
// nobody through: a workgroup member whose organisation the workgroup no
// longer admits, or an audience that resolves to nobody. A workgroup or
// identity that does not exist yet says nothing (it may be created in the
// same apply; the apply refuses a workgroup that is still missing).
func (e *Engine) RouteWarnings(ctx context.Context, r *LLMRoute) ([]string, error) {
	n, err := e.observeMembers(ctx)
	if err != nil {
		return nil, err
	}
	n.LLMRoutes = []*Stored[LLMRoute]{{Value: *r}}
	if err := e.observeNamedIdentities(ctx, n); err != nil {
		return nil, err
	}
	who, problems := derive.Audience(n, fmt.Sprintf("llm route %q", r.Name), r.Workgroups, r.Identities)
	var out []string
	for _, p := range problems {
		if strings.Contains(p, "no longer admits") {
			out = append(out, p)
		}
	}
	complete := len(derive.MissingWorkgroups(n, r)) == 0
	for _, id := range r.Identities {
		if _, ok := n.Identities[id]; !ok {
			complete = false
		}
	}
	if complete && len(who) == 0 {
		out = append(out, fmt.Sprintf("llm route %q serves nobody now: no enabled identity is named, and workgroups %v have no member whose organisation they admit (memberships created in the same apply are not counted yet)", r.Name, r.Workgroups))
	}
	return out, nil
}

// checkRouteWorkgroups refuses a route that names a workgroup the network
// does not have, before anything is written or pushed.
func (e *Engine) checkRouteWorkgroups(ctx context.Context, r *LLMRoute) error {
	wgs, err := configsOf[Workgroup](ctx, e, kindWorkgroup)
	if err != nil {
		return err
	}
	n := &Network{Workgroups: map[string]*Stored[Workgroup]{}}
	for _, w := range wgs {
		n.Workgroups[w.Value.Name] = w
	}
	if missing := derive.MissingWorkgroups(n, r); len(missing) > 0 {
		return fmt.Errorf("%w: workgroups: route %q names %s, which do not exist; create them first or remove them from the route", ErrInvalidIntent, r.Name, strings.Join(missing, ", "))
	}
	return nil
}

// ReadLLMRoute reads a route by config id.
func (e *Engine) ReadLLMRoute(ctx context.Context, id string) (*Stored[LLMRoute], error) {
	return readKind[LLMRoute](ctx, e, kindLLMRoute, id)
}

// UpdateLLMRoute changes a route and pushes the gateway.
func (e *Engine) UpdateLLMRoute(ctx context.Context, id string, r *LLMRoute) (*Stored[LLMRoute], gateways.Report, error) {
	if err := e.checkRouteWorkgroups(ctx, r); err != nil {
		return nil, gateways.Report{}, err
	}
	s, err := updateConfig(ctx, e, kindLLMRoute, id, routeKey(r), *r)
	if err != nil {
		return nil, gateways.Report{}, err
	}
	rep, err := e.PushGateway(ctx, r.Gateway)
	return s, rep, err
}

// DeleteLLMRoute removes a route and pushes the gateway without it.
func (e *Engine) DeleteLLMRoute(ctx context.Context, id string) error {
	r, err := e.ReadLLMRoute(ctx, id)
	if controller.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := e.deleteConfig(ctx, id, "llm route "+r.Value.Name); err != nil {
		return err
	}
	_, err = e.PushGateway(ctx, r.Value.Gateway)
	return err
}

// PushGateway computes the gateway's complete table from all its routes,
// grants each audience identity its own data-plane service, and pushes the
// table over the control service until the agent reports it applied.
func (e *Engine) PushGateway(ctx context.Context, gateway string) (gateways.Report, error) {
	return e.PushGatewayWith(ctx, gateway, nil)
}

// PushGatewayWith pushes the gateway's table carrying secret values (by
// secret name, see gateways.Secret*). Nothing else ever carries them: the
// agent keeps what it is given, so later pushes name secrets only.
//
// A gateway's table and data plane come from the derivation: the
// network is converged first (a new audience gets its data-plane services
// in that pass), then the pass's table is pushed here, with the secrets,
// instead of by the pass.
func (e *Engine) PushGatewayWith(ctx context.Context, gateway string, secrets map[string]string) (gateways.Report, error) {
	g, err := findConfig[Gateway](ctx, e, kindGatewayReg, gateway)
	if err != nil {
		return gateways.Report{}, err
	}
	release := e.tables.claim(gateway)
	defer release()
	if err := e.converge(ctx, 0); err != nil {
		return gateways.Report{}, err
	}
	// One push at a time per gateway: an older table must not overtake
	// a newer one on the way to the agent.
	defer e.locks.lock(gatewayLock(gateway))()
	t, err := e.tables.get(g.Value.Name)
	if err != nil {
		return gateways.Report{}, err
	}
	for name := range secrets {
		if _, ok := t.Secrets[name]; !ok {
			return gateways.Report{}, fmt.Errorf("%w: gateway %q does not name secret %s", ErrInvalidIntent, gateway, name)
		}
	}
	if len(secrets) > 0 {
		t.SecretValues = secrets
	}
	return e.pushAndRecord(ctx, t)
}

// pushAndRecord pushes a table and, once the agent reports it applied,
// records its digest on the gateway's control service.
func (e *Engine) pushAndRecord(ctx context.Context, t *gateways.Table) (gateways.Report, error) {
	rep, err := e.push(ctx, t)
	if err != nil {
		return rep, err
	}
	for _, w := range rep.Warnings {
		e.log.WarnContext(ctx, "the gateway runs its table with a warning", "gateway", t.Gateway, "warning", w)
	}
	if rep.Status != "" && rep.Status != "applied" {
		return rep, nil
	}
	return rep, e.recordDigest(ctx, t.Gateway, t.Digest())
}

// recordDigest notes on the control service which table the agent runs.
func (e *Engine) recordDigest(ctx context.Context, gateway, digest string) error {
	s, err := e.findService(ctx, ControlService(gateway))
	if err != nil {
		return err
	}
	_, err = e.c.API.Service.PatchService(service.NewPatchServiceParamsWithContext(ctx).WithID(deref(s.ID)).WithService(&rest_model.ServicePatch{
		Tags: ownTags("derived", TagOwner, "gateway/"+gateway, TagTableDigest, digest),
	}), nil)
	e.services.forget(deref(s.ID))
	return controller.Explain(err, "recording the table of gateway "+gateway)
}

// pushStale delivers a table a convergence pass found the gateway lacks.
// A gateway whose agent is not running keeps its stale table, and shows
// as not converged, until the agent is back and reconcile or an apply
// pushes: the network has already revoked what the table would.
func (e *Engine) pushStale(ctx context.Context, t *gateways.Table) error {
	if e.tables.claimed(t.Gateway) {
		return nil // its caller pushes it, with secrets
	}
	defer e.locks.lock(gatewayLock(t.Gateway))()
	running, err := e.agentRunning(ctx, t.Gateway)
	if err != nil {
		return err
	}
	if !running {
		e.log.WarnContext(ctx, "gateway agent not running; its table is stale until it is back and reconcile pushes", "gateway", t.Gateway)
		return nil
	}
	c := *t
	if _, err := e.pushAndRecord(ctx, &c); err != nil {
		if errors.Is(err, ErrGatewayDown) {
			e.log.WarnContext(ctx, "gateway agent did not answer; its table is stale until reconcile pushes", "gateway", t.Gateway, "error", err.Error())
			return nil
		}
		return err
	}
	return nil
}

// agentRunning says whether the gateway's agent is bound to its control
// service.
func (e *Engine) agentRunning(ctx context.Context, gateway string) (bool, error) {
	s, err := e.findService(ctx, ControlService(gateway))
	if err != nil {
		return false, err
	}
	terms, err := listAll(ctx, func(limit, offset *int64) ([]*rest_model.TerminatorDetail, *rest_model.Meta, error) {
		r, err := e.c.API.Service.ListServiceTerminators(service.NewListServiceTerminatorsParamsWithContext(ctx).WithID(deref(s.ID)).WithLimit(limit).WithOffset(offset), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "looking for the agent of gateway "+gateway)
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
	return len(terms) > 0, err
}

// tableMemo holds the tables of the latest plan, and which gateways a
// caller is about to push itself.
type tableMemo struct {
	mu     sync.Mutex
	tables map[string]*gateways.Table
	errs   map[string]error
	claims map[string]int
}

func (e *Engine) keepTables(d *Desired) {
	m := &e.tables
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tables, m.errs = d.Tables, d.TableErrors
}

// get returns a copy of the gateway's table from the latest plan.
func (m *tableMemo) get(gateway string) (*gateways.Table, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.errs[gateway]; err != nil {
		return nil, err
	}
	t, ok := m.tables[gateway]
	if !ok {
		return nil, fmt.Errorf("gateway %q: %w", gateway, controller.ErrNotFound)
	}
	c := *t
	return &c, nil
}

func (m *tableMemo) planned() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tables != nil
}

func (m *tableMemo) claim(gateway string) func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.claims == nil {
		m.claims = map[string]int{}
	}
	m.claims[gateway]++
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.claims[gateway]--
	}
}

func (m *tableMemo) claimed(gateway string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.claims[gateway] > 0
}

// UpdateGateway changes a registration's settings (providers, their
// secrets version, the local upstream, the intercept);
// PushGatewayIfRunning delivers them.
func (e *Engine) UpdateGateway(ctx context.Context, id string, g *Gateway) (*Stored[Gateway], error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if g.Kind == gateways.KindLLM {
		// The routes must still be servable with the new settings (a
		// provider removed under its routes is refused here, before
		// anything changes).
		// A table reads only members and routes: no need to observe the
		// derived objects too.
		n, err := e.observeMembers(ctx)
		if err != nil {
			return nil, err
		}
		if n.LLMRoutes, err = configsOf[LLMRoute](ctx, e, kindLLMRoute); err != nil {
			return nil, err
		}
		if err := e.observeNamedIdentities(ctx, n); err != nil {
			return nil, err
		}
		if _, _, _, err := derive.LLMTable(n, g); err != nil {
			return nil, err
		}
	}
	s, err := updateConfig(ctx, e, kindGatewayReg, id, g.Name, *g)
	if err != nil {
		return s, err
	}
	// The data plane's intercept lives on the controller: converge it
	// even when the agent is not running. The table is not pushed by
	// that pass: new settings may name secrets only the caller's push
	// (PushGatewayIfRunning) carries.
	release := e.tables.claim(g.Name)
	defer release()
	return s, e.Converge(ctx)
}

func gatewayLock(gateway string) string { return "gateway/" + gateway }

// PushGatewayIfRunning pushes the gateway's table, carrying its write-only
// values (secret name -> value: the hosted providers' keys, an mcp
// gateway's share token), when its agent is bound to the
// control service. It answers false at once when no agent is there yet:
// a gateway is usually registered before its agent starts.
func (e *Engine) PushGatewayIfRunning(ctx context.Context, gateway string, secrets map[string]string) (bool, gateways.Report, error) {
	running, err := e.agentRunning(ctx, gateway)
	if err != nil || !running {
		return false, gateways.Report{}, err
	}
	// An mcp gateway without routes gets its (empty) table too: the agent
	// keeps the delivered share token and runs nothing until a route comes.
	rep, err := e.PushGatewayWith(ctx, gateway, secrets)
	return err == nil, rep, err
}

// RepushGateways asks every gateway agent what it runs and pushes the
// current table to each one that differs (restarted, or missed a push).
// It returns the gateways it pushed to.
func (e *Engine) RepushGateways(ctx context.Context) ([]string, error) {
	if !e.tables.planned() {
		if _, err := e.PlanChanges(ctx); err != nil {
			return nil, err
		}
	}
	regs, err := configsOf[Gateway](ctx, e, kindGatewayReg)
	if err != nil {
		return nil, err
	}
	var pushed []string
	var errs []error
	for _, g := range regs {
		did, err := e.repushGateway(ctx, &g.Value)
		if err != nil {
			errs = append(errs, err)
		}
		if did {
			pushed = append(pushed, g.Value.Name)
		}
	}
	return pushed, errors.Join(errs...)
}

// repushGateway pushes one gateway's table if its agent runs another.
func (e *Engine) repushGateway(ctx context.Context, g *Gateway) (bool, error) {
	t, err := e.tables.get(g.Name)
	if err != nil {
		return false, err
	}
	defer e.locks.lock(gatewayLock(g.Name))()
	if running, err := e.agentRunning(ctx, g.Name); err != nil || !running {
		if err == nil {
			e.log.WarnContext(ctx, "gateway agent not running; its table is pushed once it is back", "gateway", g.Name)
		}
		return false, err
	}
	z, err := e.c.Ziti()
	if err != nil {
		return false, err
	}
	svc := ControlService(g.Name)
	st, err := control.Status(ctx, control.Dialer(z, svc))
	if err == nil && st.Status == "applied" && st.TableDigest == t.Digest() {
		return false, nil
	}
	e.log.InfoContext(ctx, "gateway differs from its routes; pushing", "gateway", g.Name, "running_status", st.Status, "running_digest", st.TableDigest)
	if _, err := e.pushAndRecord(ctx, t); err != nil {
		return false, err
	}
	return true, nil
}

// GatewayStatus asks a gateway's agent what it runs and what each identity
// has used.
func (e *Engine) GatewayStatus(ctx context.Context, gateway string) (gateways.Report, error) {
	if _, err := findConfig[Gateway](ctx, e, kindGatewayReg, gateway); err != nil {
		return gateways.Report{}, err
	}
	z, err := e.c.Ziti()
	if err != nil {
		return gateways.Report{}, err
	}
	svc := ControlService(gateway)
	r, err := control.Status(ctx, control.Dialer(z, svc))
	if err != nil {
		return r, fmt.Errorf("%w: gateway %q: %w", ErrGatewayDown, gateway, err)
	}
	return r, nil
}

// push delivers a table, waiting a bounded time for the agent.
func (e *Engine) push(ctx context.Context, t *gateways.Table) (gateways.Report, error) {
	gateway := t.Gateway
	z, err := e.c.Ziti()
	if err != nil {
		return gateways.Report{}, err
	}
	svc := ControlService(gateway)
	t.Generation = time.Now().UnixNano()
	deadline := time.Now().Add(e.pushTimeout())
	for {
		rep, err := control.Push(ctx, control.Dialer(z, svc), t)
		if err == nil || !errors.Is(err, control.ErrDial) {
			if err != nil {
				return rep, err
			}
			return rep, nil
		}
		if time.Now().After(deadline) {
			return rep, fmt.Errorf("%w: gateway %q did not answer on %s within %s (%w); the routes are recorded and the next apply or reconcile delivers them", ErrGatewayDown, gateway, svc, e.pushTimeout(), err)
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// SetGatewayTimeout bounds how long a push waits for a gateway agent
// (default 30 s).
func (e *Engine) SetGatewayTimeout(d time.Duration) { e.gatewayTimeout = d }

func (e *Engine) pushTimeout() time.Duration {
	if e.gatewayTimeout > 0 {
		return e.gatewayTimeout
	}
	return 30 * time.Second
}

func (e *Engine) mcpRoutesOf(ctx context.Context, gateway string) ([]*Stored[MCPRoute], error) {
	all, err := configsOf[MCPRoute](ctx, e, kindMCPRoute)
	if err != nil {
		return nil, err
	}
	var out []*Stored[MCPRoute]
	for _, r := range all {
		if r.Value.Gateway == gateway {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value.Namespace < out[j].Value.Namespace })
	return out, nil
}

func mcpKey(r *MCPRoute) string { return r.Gateway + "." + r.Namespace }

// CreateMCPRoute records an MCP backend and returns once the gateway runs
// it; a route the gateway cannot serve (see mcpTable) is refused before
// anything is written.
// secrets holds the values of the route's SecretHeaders and SecretEnv by
// name; they travel in this push only.
func (e *Engine) CreateMCPRoute(ctx context.Context, r *MCPRoute, secrets MCPSecrets) (*Stored[MCPRoute], gateways.Report, error) {
	if err := e.checkMCPRoute(ctx, r); err != nil {
		return nil, gateways.Report{}, err
	}
	if err := secrets.match(r); err != nil {
		return nil, gateways.Report{}, err
	}
	// Claimed before the route exists: a pass that another resource's
	// change runs meanwhile must not push a table naming this route's
	// secrets without their values; the push below carries them.
	release := e.tables.claim(r.Gateway)
	defer release()
	s, err := createConfig(ctx, e, kindMCPRoute, mcpKey(r), *r)
	if err != nil {
		return nil, gateways.Report{}, err
	}
	rep, err := e.PushGatewayWith(ctx, r.Gateway, secrets.values(r.Namespace))
	return s, rep, err
}

// MCPSecrets are the write-only header, env and share-token values of one
// MCP route.
type MCPSecrets struct {
	Headers    map[string]string
	Env        map[string]string
	ShareToken string
}

// match checks that the values are exactly the ones the route names.
func (s MCPSecrets) match(r *MCPRoute) error {
	same := func(names []string, values map[string]string) bool {
		if len(names) != len(values) {
			return false
		}
		for _, n := range names {
			if _, ok := values[n]; !ok {
				return false
			}
		}
		return true
	}
	if !same(r.SecretHeaders, s.Headers) || !same(r.SecretEnv, s.Env) || r.SecretShareToken != (s.ShareToken != "") {
		return fmt.Errorf("%w: the secret values given do not match the secret names of route %q", ErrInvalidIntent, r.Namespace)
	}
	return nil
}

func (s MCPSecrets) values(namespace string) map[string]string {
	out := map[string]string{}
	for h, v := range s.Headers {
		out[gateways.HeaderSecret(namespace, h)] = v
	}
	for n, v := range s.Env {
		out[gateways.EnvSecret(namespace, n)] = v
	}
	if s.ShareToken != "" {
		out[gateways.ShareTokenSecret(namespace)] = s.ShareToken
	}
	return out
}

// checkMCPRoute validates the gateway's table as it would be with r added.
func (e *Engine) checkMCPRoute(ctx context.Context, r *MCPRoute) error {
	return e.checkMCPRouteBeside(ctx, r, false)
}

// CheckMCPRoute says at plan time whether r could join its gateway's
// other routes: deny-all filters and bad transports
// are refused before anything is written. A stored route with the same
// namespace is taken as the one r replaces (Terraform plans the create
// half of a replacement without the prior state), so a duplicate
// namespace is refused at apply. A gateway that does not exist yet (it
// may be created in the same apply) passes.
func (e *Engine) CheckMCPRoute(ctx context.Context, r *MCPRoute) error {
	return e.checkMCPRouteBeside(ctx, r, true)
}

func (e *Engine) checkMCPRouteBeside(ctx context.Context, r *MCPRoute, planning bool) error {
	g, err := findConfig[Gateway](ctx, e, kindGatewayReg, r.Gateway)
	if controller.IsNotFound(err) {
		if !planning {
			return fmt.Errorf("%w: gateway: %q does not exist", ErrInvalidIntent, r.Gateway)
		}
		// The gateway may come in the same apply: check the route on its
		// own, as the first of a gateway with default settings.
		if err := r.ValidateSecrets(); err != nil {
			return err
		}
		alone := derive.MCPTableOf(&Gateway{Name: r.Gateway, Kind: gateways.KindMCP}, []*Stored[MCPRoute]{{Value: *r}})
		if err := alone.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidIntent, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if g.Value.Kind != gateways.KindMCP {
		return fmt.Errorf("%w: gateway: %q is an %s gateway, not mcp", ErrInvalidIntent, r.Gateway, g.Value.Kind)
	}
	routes, err := e.mcpRoutesOf(ctx, r.Gateway)
	if err != nil {
		return err
	}
	if err := r.ValidateSecrets(); err != nil {
		return err
	}
	var beside []*Stored[MCPRoute]
	for _, s := range append(routes, &Stored[MCPRoute]{Value: *r}) {
		if planning && s.ID != "" && s.Value.Namespace == r.Namespace {
			continue
		}
		beside = append(beside, s)
	}
	if err := derive.MCPTableOf(&g.Value, beside).Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidIntent, err)
	}
	return nil
}

// UpdateMCPRoute changes who a route serves (its workgroups and
// identities; anything else replaces the route) and pushes the gateway.
// The rendered gateway config does not change, so the gateway keeps
// running: only the front's view and the data-plane services move.
func (e *Engine) UpdateMCPRoute(ctx context.Context, id string, r *MCPRoute) (*Stored[MCPRoute], gateways.Report, error) {
	have, err := e.ReadMCPRoute(ctx, id)
	if err != nil {
		return nil, gateways.Report{}, err
	}
	was, will := have.Value, *r
	was.Workgroups, was.Identities, will.Workgroups, will.Identities = nil, nil, nil, nil
	// Compared as stored: an empty list and none are the same route.
	a, _ := json.Marshal(was)
	b, _ := json.Marshal(will)
	if !bytes.Equal(a, b) {
		return nil, gateways.Report{}, fmt.Errorf("%w: mcp route %q: only workgroups and identities change in place; anything else replaces the route", ErrInvalidIntent, r.Namespace)
	}
	if err := e.checkMCPRouteBeside(ctx, r, true); err != nil {
		return nil, gateways.Report{}, err
	}
	release := e.tables.claim(r.Gateway)
	defer release()
	s, err := updateConfig(ctx, e, kindMCPRoute, id, mcpKey(r), *r)
	if err != nil {
		return nil, gateways.Report{}, err
	}
	rep, err := e.PushGateway(ctx, r.Gateway)
	return s, rep, err
}

// ReadMCPRoute reads an MCP route by config id.
func (e *Engine) ReadMCPRoute(ctx context.Context, id string) (*Stored[MCPRoute], error) {
	return readKind[MCPRoute](ctx, e, kindMCPRoute, id)
}

// DeleteMCPRoute removes an MCP backend and pushes the gateway without it.
func (e *Engine) DeleteMCPRoute(ctx context.Context, id string) error {
	r, err := e.ReadMCPRoute(ctx, id)
	if controller.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := e.deleteConfig(ctx, id, "mcp route "+r.Value.Namespace); err != nil {
		return err
	}
	// The last route's removal pushes an empty table too: the agent then
	// stops the gateway, which cannot run without a backend.
	_, err = e.PushGateway(ctx, r.Value.Gateway)
	return err
}

// servesGateways says whether any gateway is registered: only then can an
// identity's departure change a data plane.
func (e *Engine) servesGateways(ctx context.Context) bool {
	regs, err := configsOf[Gateway](ctx, e, kindGatewayReg)
	return err != nil || len(regs) > 0
}
