package reconciler_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agentmesh/agentmesh/reconciler"
)

// TestRouteAudienceChecks: a route that names a missing workgroup is
// refused before anything is written; a route whose workgroup no longer
// admits a member's organisation, or whose audience resolves to nobody,
// gets warnings that name the workgroup and the member.
func TestRouteAudienceChecks(t *testing.T) {
	ctx := context.Background()
	e := engine(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	gw, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "ra-gw", Organization: "ra-ops", Kind: reconciler.KindGateway})
	must(err)
	t.Cleanup(func() { _ = e.DeleteIdentity(ctx, gw.ID) })
	a, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "ra-ana", Organization: "ra-mkt", Kind: reconciler.KindAgent})
	must(err)
	t.Cleanup(func() { _ = e.DeleteIdentity(ctx, a.ID) })
	b, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "ra-bob", Organization: "ra-sig", Kind: reconciler.KindAgent})
	must(err)
	t.Cleanup(func() { _ = e.DeleteIdentity(ctx, b.ID) })
	w, err := e.CreateWorkgroup(ctx, &reconciler.Workgroup{Name: "ra-desk", OwnerOrganization: "ra-mkt", ParticipatingOrganizations: []string{"ra-sig"}})
	must(err)
	empty, err := e.CreateWorkgroup(ctx, &reconciler.Workgroup{Name: "ra-empty", OwnerOrganization: "ra-mkt"})
	must(err)
	for _, id := range []string{a.ID, b.ID} {
		m, err := e.CreateMembership(ctx, &reconciler.Membership{Workgroup: "ra-desk", Identity: id, Role: "admin"})
		must(err)
		t.Cleanup(func() { _ = e.DeleteMembership(ctx, m.ID) })
	}
	t.Cleanup(func() { _ = e.DeleteWorkgroup(ctx, w.ID); _ = e.DeleteWorkgroup(ctx, empty.ID) })
	g, err := e.CreateGateway(ctx, &reconciler.Gateway{Name: "ra-llm", Kind: "llm", Identity: gw.ID, Listen: "127.0.0.1:18997", LocalBaseURL: "http://127.0.0.1:9"})
	must(err)
	t.Cleanup(func() { _ = e.DeleteGateway(ctx, g.ID) })

	route := &reconciler.LLMRoute{Gateway: "ra-llm", Name: "chat", Model: "llama3", Workgroups: []string{"ra-desk"}}
	if warnings, err := e.RouteWarnings(ctx, route); err != nil || len(warnings) != 0 {
		t.Fatalf("a route whose members are all admitted: %v %v", warnings, err)
	}
	// The workgroup drops ra-sig: bob's membership stays but grants nothing.
	_, err = e.UpdateWorkgroup(ctx, w.ID, &reconciler.Workgroup{Name: "ra-desk", OwnerOrganization: "ra-mkt"})
	must(err)
	warnings, err := e.RouteWarnings(ctx, route)
	must(err)
	if len(warnings) != 1 || !strings.Contains(warnings[0], `workgroup "ra-desk" no longer admits organisation "ra-sig", so its member "ra-bob" is not served`) {
		t.Fatalf("warnings %q", warnings)
	}
	warnings, err = e.RouteWarnings(ctx, &reconciler.LLMRoute{Gateway: "ra-llm", Name: "lonely", Model: "llama3", Workgroups: []string{"ra-empty"}})
	must(err)
	if len(warnings) != 1 || !strings.Contains(warnings[0], `llm route "lonely" serves nobody now`) || !strings.Contains(warnings[0], "ra-empty") {
		t.Fatalf("an audience of nobody: %q", warnings)
	}

	_, _, err = e.CreateLLMRoute(ctx, &reconciler.LLMRoute{Gateway: "ra-llm", Name: "ghost", Model: "llama3", Workgroups: []string{"ra-ghost"}})
	if !errors.Is(err, reconciler.ErrInvalidIntent) || !strings.Contains(err.Error(), "ra-ghost") {
		t.Fatalf("a route naming a missing workgroup: %v", err)
	}
	n, err := e.Observe(ctx)
	must(err)
	for _, r := range n.LLMRoutes {
		if r.Value.Name == "ghost" {
			t.Fatal("the refused route was written")
		}
	}
}

// TestMCPRouteCheckedBeforeItsGateway: a route planned together with its
// gateway (which does not exist yet) is still checked against what the
// real mcp-gateway refuses.
func TestMCPRouteCheckedBeforeItsGateway(t *testing.T) {
	e := engine(t)
	r := &reconciler.MCPRoute{Gateway: "mcp-not-yet", Namespace: "wiki", Type: "http", Endpoint: "http://127.0.0.1:9/sse", Protocol: "sse",
		ToolsMode: "allow", Tools: []string{"read_*"}}
	if err := e.CheckMCPRoute(context.Background(), r); !errors.Is(err, reconciler.ErrInvalidIntent) || !strings.Contains(err.Error(), "allow_insecure") {
		t.Fatalf("http:// without allow_insecure, gateway not created yet: %v", err)
	}
	r.AllowInsecure = true
	if err := e.CheckMCPRoute(context.Background(), r); err != nil {
		t.Fatalf("with allow_insecure: %v", err)
	}
	z := &reconciler.MCPRoute{Gateway: "mcp-not-yet", Namespace: "remote", Type: "zrok", ToolsMode: "allow", Tools: []string{"x"}}
	if err := e.CheckMCPRoute(context.Background(), z); err == nil || !strings.Contains(err.Error(), "share token") {
		t.Fatalf("zrok without its share token: %v", err)
	}
}
