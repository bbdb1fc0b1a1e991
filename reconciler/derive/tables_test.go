package derive

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/agentmesh/agentmesh/reconciler/intent"
)

func (b *netBuilder) gateway(name, identity string) *netBuilder {
	if b.n.Gateways == nil {
		b.n.Gateways = map[string]*intent.Stored[intent.Gateway]{}
	}
	b.n.Gateways[name] = &intent.Stored[intent.Gateway]{ID: "cfg-gw-" + name, Value: intent.Gateway{Name: name, Kind: "llm", Identity: identity, Listen: "127.0.0.1:8080", LocalBaseURL: "http://127.0.0.1:11434"}}
	return b
}

func (b *netBuilder) llmRoute(gateway, name, model string, workgroups []string, identities ...string) *netBuilder {
	b.n.LLMRoutes = append(b.n.LLMRoutes, &intent.Stored[intent.LLMRoute]{ID: "cfg-r-" + name, Value: intent.LLMRoute{Gateway: gateway, Name: name, Model: model, Workgroups: workgroups, Identities: identities}})
	return b
}

func (b *netBuilder) disable(id string) *netBuilder {
	b.n.Identities[id].Disabled = true
	return b
}

func (b *netBuilder) drop(id string) *netBuilder {
	delete(b.n.Identities, id)
	return b
}

// served lists a gateway's table members as name:models.
func served(t *testing.T, b *netBuilder, gateway string) string {
	t.Helper()
	tbl, _, _, err := LLMTable(b.n, &b.n.Gateways[gateway].Value)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range tbl.Members {
		out = append(out, m.Identity+":"+strings.Join(m.AllowedModels, "+"))
	}
	return strings.Join(out, " ")
}

// TestLLMTableAudience covers every way an identity enters or leaves a
// gateway's audience: each one changes the table and the data plane
// together, because both come from the same derivation.
func TestLLMTableAudience(t *testing.T) {
	base := func() *netBuilder {
		return newNet().identity("gw", "ops").identity("ana", "mkt").identity("bob", "sig").identity("cy", "mkt").
			workgroup("research", "mkt", "sig").member("research", "ana").member("research", "bob").
			gateway("llm", "gw").llmRoute("llm", "chat", "llama3", []string{"research"})
	}
	cases := []struct {
		name string
		net  *netBuilder
		want string
	}{
		{"workgroup members are served", base(), "ana:llama3 bob:llama3"},
		{"a deleted membership leaves the audience", func() *netBuilder {
			b := base()
			b.n.Memberships = slices.DeleteFunc(b.n.Memberships, func(m *intent.Stored[intent.Membership]) bool { return m.Value.Identity == "bob" })
			return b
		}(), "ana:llama3"},
		{"an organisation dropped from the workgroup leaves the audience", func() *netBuilder {
			b := base()
			b.n.Workgroups["research"].Value.ParticipatingOrganizations = nil
			return b
		}(), "ana:llama3"},
		{"a disabled identity is not served", base().disable("bob"), "ana:llama3"},
		{"a deleted identity is not served", base().drop("bob"), "ana:llama3"},
		{"a route's workgroups changed", func() *netBuilder {
			b := base().workgroup("desk", "mkt").member("desk", "cy")
			b.n.LLMRoutes[0].Value.Workgroups = []string{"desk"}
			return b
		}(), "cy:llama3"},
		{"identities named directly", base().llmRoute("llm", "direct", "qwen", nil, "cy"), "ana:llama3 bob:llama3 cy:qwen"},
		{"models of several routes are merged", base().llmRoute("llm", "code", "qwen", []string{"research"}), "ana:llama3+qwen bob:llama3+qwen"},
		{"another gateway's routes do not count", base().gateway("other", "gw").llmRoute("other", "x", "qwen", nil, "cy"), "ana:llama3 bob:llama3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := served(t, c.net, "llm"); got != c.want {
				t.Fatalf("served %q, want %q", got, c.want)
			}
		})
	}
}

func TestLLMTableProblems(t *testing.T) {
	b := newNet().identity("gw", "ops").identity("ana", "mkt").identity("bob", "sig").
		workgroup("research", "mkt").member("research", "ana").member("research", "bob").
		gateway("llm", "gw").llmRoute("llm", "chat", "llama3", []string{"research", "ghost"}).
		llmRoute("llm", "empty", "qwen", nil, "nobody-id")
	_, _, problems, err := LLMTable(b.n, &b.n.Gateways["llm"].Value)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(problems, "\n")
	for _, want := range []string{
		`workgroup "ghost" does not exist`,
		`workgroup "research" no longer admits organisation "sig", so its member "bob" is not served`,
		`llm route "empty" of gateway "llm": its audience resolves to nobody`,
		`identity nobody-id does not exist`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if missing := MissingWorkgroups(b.n, &b.n.LLMRoutes[0].Value); !slices.Equal(missing, []string{"ghost"}) {
		t.Fatalf("missing workgroups %v", missing)
	}
}

func TestLLMTableInvalid(t *testing.T) {
	b := newNet().identity("gw", "ops").gateway("llm", "gw").llmRoute("llm", "chat", "gpt-4o", nil)
	if _, _, _, err := LLMTable(b.n, &b.n.Gateways["llm"].Value); !errors.Is(err, intent.ErrInvalidIntent) {
		t.Fatalf("a model the gateway has no provider for: %v", err)
	}
	d := Derive(b.n)
	if _, ok := d.Tables["llm"]; ok || d.TableErrors["llm"] == nil {
		t.Fatal("an invalid table must be reported and not offered for a push")
	}
}

// TestDeriveDataPlane: the derivation gives each audience identity its own
// data-plane service, bound by the gateway's identity alone and dialable
// by that identity alone, and the shared intercept only while anyone is
// served.
func TestDeriveDataPlane(t *testing.T) {
	b := newNet().identity("gw", "ops").identity("ana", "mkt").identity("bob", "mkt").
		workgroup("research", "mkt").member("research", "ana").member("research", "bob").
		gateway("llm", "gw").llmRoute("llm", "chat", "llama3", []string{"research"})
	b.n.Gateways["llm"].Value.InterceptAddress, b.n.Gateways["llm"].Value.InterceptPort = "llm.ziti", 80
	// ana's service exists already; bob's is created by the same pass.
	b.n.GatewayServices = map[string]GatewayService{DataPlaneService("llm", "ana"): {ID: "svc-ana", Owner: "gateway/llm"}}
	d := Derive(b.n)
	var svcs []string
	for name, s := range d.DarkServices {
		svcs = append(svcs, name+"<"+s.Dialer)
		if s.Binder != "gw" || !slices.Equal(s.Configs, []string{DataPlaneIntercept("llm")}) {
			t.Fatalf("service %s: %+v", name, s)
		}
	}
	sort.Strings(svcs)
	if got := strings.Join(svcs, " "); got != "agentmesh.llm.llm.ana<ana agentmesh.llm.llm.bob<bob" {
		t.Fatalf("data-plane services %s", got)
	}
	if p := d.Policies[DarkDialPolicy(DataPlaneService("llm", "ana"))]; !slices.Equal(p.ServiceRoles, []string{"@svc-ana"}) || !slices.Equal(p.IdentityRoles, []string{"@ana"}) {
		t.Fatalf("ana's dial policy %+v", p)
	}
	if p := d.Policies[DarkDialPolicy(DataPlaneService("llm", "bob"))]; !slices.Equal(p.ServiceRoles, []string{"@" + PendingService + DataPlaneService("llm", "bob")}) {
		t.Fatalf("a service made in the same pass is referred to until it exists: %+v", p)
	}
	if _, ok := d.Configs[DataPlaneIntercept("llm")]; !ok {
		t.Fatal("no shared intercept")
	}
	roles := map[string][]string{"ana": nil, "bob": nil, "gw": nil}
	services := map[string]bool{"svc-ana": true, PendingService + DataPlaneService("llm", "bob"): true}
	grants := Access(d.Policies, roles, services)
	if len(grants) != 2 || !grants[Grant{"ana", "svc-ana"}] || !grants[Grant{"bob", PendingService + DataPlaneService("llm", "bob")}] {
		t.Fatalf("each identity dials its own service only: %v", grants)
	}

	b.n.Memberships = nil
	d = Derive(b.n)
	if len(d.DarkServices) != 0 || len(d.Configs) != 0 {
		t.Fatalf("nobody served, nothing derived: %v %v", d.DarkServices, d.Configs)
	}
	if _, ok := d.Tables["llm"]; !ok {
		t.Fatal("an empty audience still has a table to push (it revokes every key)")
	}
}

func (b *netBuilder) mcpRoute(gateway, namespace string, tools []string, workgroups []string, identities ...string) *netBuilder {
	b.n.MCPRoutes = append(b.n.MCPRoutes, &intent.Stored[intent.MCPRoute]{ID: "cfg-m-" + namespace, Value: intent.MCPRoute{Gateway: gateway, Namespace: namespace,
		Type: "stdio", Command: "mcp-notes", ToolsMode: "allow", Tools: tools, Workgroups: workgroups, Identities: identities}})
	return b
}

// TestMCPTableAudience: an mcp gateway's members, their routes and their
// data-plane services come from the same audience rules as an llm
// gateway's, so every way of leaving the audience revokes the service.
func TestMCPTableAudience(t *testing.T) {
	base := func() *netBuilder {
		b := newNet().identity("gw", "ops").identity("ana", "mkt").identity("bob", "mkt").identity("cy", "mkt").
			workgroup("research", "mkt").member("research", "ana").member("research", "bob").
			gateway("tools", "gw").mcpRoute("tools", "notes", []string{"read_*"}, []string{"research"}).
			mcpRoute("tools", "vault", []string{"list_*"}, nil, "bob", "cy")
		b.n.Gateways["tools"].Value.Kind = "mcp"
		return b
	}
	members := func(b *netBuilder) string {
		d := Derive(b.n)
		tbl, ok := d.Tables["tools"]
		if !ok {
			t.Fatalf("no table: %v", d.TableErrors)
		}
		var out []string
		for _, m := range tbl.Members {
			if m.Service != MCPDataPlaneService("tools", m.Identity) {
				t.Fatalf("member %s is served on %s", m.Identity, m.Service)
			}
			ds, ok := d.DarkServices[m.Service]
			if !ok || ds.Binder != "gw" || ds.Dialer != m.Identity {
				t.Fatalf("member %s has no dark service of its own: %+v", m.Identity, ds)
			}
			out = append(out, m.Identity+":"+strings.Join(m.Namespaces, "+"))
		}
		if len(d.DarkServices) != len(tbl.Members) {
			t.Fatalf("dark services %v for members %v", d.DarkServices, out)
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		name string
		net  *netBuilder
		want string
	}{
		{"routes with different audiences share the gateway; overlaps add up", base(), "ana:notes bob:notes+vault cy:vault"},
		{"a disabled identity is not served", base().disable("bob"), "ana:notes cy:vault"},
		{"a deleted membership leaves one route", func() *netBuilder {
			b := base()
			b.n.Memberships = slices.DeleteFunc(b.n.Memberships, func(m *intent.Stored[intent.Membership]) bool { return m.Value.Identity == "ana" })
			return b
		}(), "bob:notes+vault cy:vault"},
		{"an organisation dropped from the workgroup", func() *netBuilder {
			b := base()
			b.n.Workgroups["research"].Value.OwnerOrganization = "ops"
			b.n.Workgroups["research"].Value.ParticipatingOrganizations = nil
			return b
		}(), "bob:vault cy:vault"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := members(c.net); got != c.want {
				t.Fatalf("members %q, want %q", got, c.want)
			}
		})
	}
	if got := DataPlaneKind(MCPDataPlaneService("tools", "ana")); got != "mcp" || !IsDataPlaneService(MCPDataPlaneService("tools", "ana")) {
		t.Fatalf("an MCP data-plane service is a data-plane service of kind mcp: %q", got)
	}
}
