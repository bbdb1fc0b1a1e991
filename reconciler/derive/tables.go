package derive

import (
	"fmt"
	"slices"
	"sort"

	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/reconciler/intent"
)

// Audience resolution and table building are pure: they read intents only,
// so the derivation, plan-time checks and pushes all agree on who a
// gateway serves.

// Audience returns the identities (id -> name) that route-style
// audience selectors admit: the identities named directly plus every valid
// member of the named workgroups. An identity counts only while it exists,
// is enabled, and (for a workgroup) belongs to an organisation the
// workgroup admits. Problems name what grants nothing.
func Audience(n *Network, what string, workgroups, identities []string) (map[string]string, []string) {
	out := map[string]string{}
	var problems []string
	admit := func(id string) {
		o, ok := n.Identities[id]
		if !ok || o.Disabled {
			return
		}
		out[id] = o.Name
	}
	for _, id := range identities {
		if _, ok := n.Identities[id]; !ok {
			problems = append(problems, fmt.Sprintf("%s: identity %s does not exist; it is served nothing", what, id))
		}
		admit(id)
	}
	for _, w := range workgroups {
		wg, ok := n.Workgroups[w]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: workgroup %q does not exist; it grants nothing", what, w))
			continue
		}
		for _, m := range n.Memberships {
			if m.Value.Workgroup != w {
				continue
			}
			o, ok := n.Identities[m.Value.Identity]
			if !ok {
				continue
			}
			if !wg.Value.Admits(o.Organization) {
				problems = append(problems, fmt.Sprintf("%s: workgroup %q no longer admits organisation %q, so its member %q is not served", what, w, o.Organization, o.Name))
				continue
			}
			admit(o.ID)
		}
	}
	return out, problems
}

// LLMTable builds an llm gateway's table from its registration, its routes
// and the network's memberships and identities, with the audience it
// serves (identity id -> name). The table's Generation is left 0; a push
// stamps it. Problems are intents that grant nothing; the returned error
// is set when the table itself is invalid (nothing may be pushed).
func LLMTable(n *Network, g *intent.Gateway) (*gateways.Table, map[string]string, []string, error) {
	type grant struct {
		models []string
		budget int64
		period string
	}
	var routes []*intent.LLMRoute
	for _, r := range n.LLMRoutes {
		if r.Value.Gateway == g.Name {
			routes = append(routes, &r.Value)
		}
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].Name < routes[j].Name })

	t := &gateways.Table{Gateway: g.Name, Kind: gateways.KindLLM, LLM: g.LLMSettings()}
	for _, h := range g.Hosted {
		t.Secrets = intent.WithSecret(t.Secrets, intent.ProviderSecret(h.Provider), g.SecretsVersion)
	}
	grants := map[string]*grant{}
	audience := map[string]string{}
	var problems []string
	for _, r := range routes {
		lr := gateways.LLMRoute{Name: r.Name, Model: r.Model, Description: r.Description, Examples: r.Examples}
		for _, h := range r.Heuristics {
			lr.Heuristics = append(lr.Heuristics, gateways.Heuristic{Keywords: h.Keywords, Exclude: h.Exclude})
		}
		t.LLMRoutes = append(t.LLMRoutes, lr)
		if r.Name == g.DefaultRoute {
			// Only while the route exists: routes and the gateway are
			// created and destroyed in either order.
			t.LLM.DefaultRoute = g.DefaultRoute
		}
		what := fmt.Sprintf("llm route %q of gateway %q", r.Name, g.Name)
		who, p := Audience(n, what, r.Workgroups, r.Identities)
		problems = append(problems, p...)
		if len(who) == 0 {
			problems = append(problems, fmt.Sprintf("%s: its audience resolves to nobody", what))
		}
		for id, name := range who {
			audience[id] = name
			gr := grants[id]
			if gr == nil {
				gr = &grant{}
				grants[id] = gr
			}
			gr.models = append(gr.models, r.Model)
			// Several budgeted routes: the largest allowance applies.
			if r.BudgetTokens > gr.budget {
				gr.budget, gr.period = r.BudgetTokens, r.BudgetPeriod
			}
		}
	}
	for id, name := range audience {
		gr := grants[id]
		sort.Strings(gr.models)
		m := gateways.Member{Identity: name, Service: DataPlaneService(g.Name, name), AllowedModels: slices.Compact(gr.models)}
		if gr.budget > 0 {
			m.Budget = &gateways.Budget{Tokens: gr.budget, Period: gr.period}
		}
		t.Members = append(t.Members, m)
	}
	return finish(t, audience, problems)
}

// MissingWorkgroups names the route's workgroups the network lacks: a
// route that names one is refused before it is written or pushed.
func MissingWorkgroups(n *Network, r *intent.LLMRoute) []string {
	var out []string
	for _, w := range r.Workgroups {
		if _, ok := n.Workgroups[w]; !ok {
			out = append(out, w)
		}
	}
	return out
}

// MCPTableOf is an mcp gateway's table with these routes, naming every
// write-only value they and the gateway need, before any audience is
// resolved: enough to check the routes against what mcp-gateway accepts.
func MCPTableOf(g *intent.Gateway, routes []*intent.Stored[intent.MCPRoute]) *gateways.Table {
	t := &gateways.Table{Gateway: g.Name, Kind: gateways.KindMCP, MCP: g.MCP.Settings()}
	if a := g.MCP; a != nil && a.ShareTokenSet {
		t.Secrets = intent.WithSecret(t.Secrets, gateways.SecretMCPShareToken, g.SecretsVersion)
	}
	sorted := slices.Clone(routes)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Value.Namespace < sorted[j].Value.Namespace })
	for _, r := range sorted {
		t.MCPRoutes = append(t.MCPRoutes, r.Value.GatewayRoute())
		for name, v := range r.Value.SecretVersions() {
			t.Secrets = intent.WithSecret(t.Secrets, name, v)
		}
	}
	return t
}

// MCPTable builds an mcp gateway's table from its routes and the network's
// memberships and identities, with the audience it serves (identity id ->
// name). mcp-gateway filters tools per backend, not per client, so each
// member carries the routes (namespaces) it may use: the agent's front
// applies them per identity. Problems and the error are as LLMTable's.
func MCPTable(n *Network, g *intent.Gateway) (*gateways.Table, map[string]string, []string, error) {
	var routes []*intent.Stored[intent.MCPRoute]
	for _, r := range n.MCPRoutes {
		if r.Value.Gateway == g.Name {
			routes = append(routes, r)
		}
	}
	t := MCPTableOf(g, routes)
	audience := map[string]string{}
	namespaces := map[string][]string{}
	var problems []string
	for _, r := range t.MCPRoutes {
		what := fmt.Sprintf("mcp route %q of gateway %q", r.Namespace, g.Name)
		who, p := Audience(n, what, r.Audience.Workgroups, r.Audience.Identities)
		problems = append(problems, p...)
		if len(who) == 0 {
			problems = append(problems, fmt.Sprintf("%s: its audience resolves to nobody", what))
		}
		for id, name := range who {
			audience[id] = name
			namespaces[id] = append(namespaces[id], r.Namespace)
		}
	}
	for id, name := range audience {
		ns := namespaces[id]
		sort.Strings(ns)
		t.Members = append(t.Members, gateways.Member{Identity: name, Service: MCPDataPlaneService(g.Name, name), Namespaces: slices.Compact(ns)})
	}
	return finish(t, audience, problems)
}

// finish orders a built table's members and problems and validates it.
func finish(t *gateways.Table, audience map[string]string, problems []string) (*gateways.Table, map[string]string, []string, error) {
	sort.Slice(t.Members, func(i, j int) bool { return t.Members[i].Identity < t.Members[j].Identity })
	sort.Strings(problems)
	problems = slices.Compact(problems)
	if err := t.Validate(); err != nil {
		return t, audience, problems, fmt.Errorf("%w: %w", intent.ErrInvalidIntent, err)
	}
	return t, audience, problems, nil
}
