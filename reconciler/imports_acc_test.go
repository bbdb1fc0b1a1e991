package reconciler_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agentmesh/agentmesh/reconciler"
)

// TestResolveImport: a readable id resolves to the Ziti id, an id stays
// itself, a string that is one object's id and another's name is refused
// as ambiguous, and an unknown one says what to look up.
func TestResolveImport(t *testing.T) {
	ctx := context.Background()
	e := engine(t)
	a, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "imp-alpha", Organization: "imp-co", Kind: reconciler.KindAgent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteIdentity(ctx, a.ID) })
	for _, given := range []string{"imp-alpha", a.ID} {
		if got, err := e.ResolveImport(ctx, reconciler.ImportIdentity, given); err != nil || got != a.ID {
			t.Fatalf("import %q = %q %v, want %s", given, got, err, a.ID)
		}
	}
	// An identity named after another one's id.
	b, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: a.ID, Organization: "imp-co", Kind: reconciler.KindAgent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteIdentity(ctx, b.ID) })
	if _, err := e.ResolveImport(ctx, reconciler.ImportIdentity, a.ID); !errors.Is(err, reconciler.ErrInvalidIntent) || !strings.Contains(err.Error(), "import by the id you mean") {
		t.Fatalf("ambiguous import: %v", err)
	}
	if _, err := e.ResolveImport(ctx, reconciler.ImportIdentity, "imp-nobody"); err == nil || !strings.Contains(err.Error(), "ziti edge list identities") {
		t.Fatalf("unknown identity: %v", err)
	}
	if _, err := e.ResolveImport(ctx, reconciler.ImportLLMRoute, "no-slash"); err == nil || !strings.Contains(err.Error(), "<gateway>/<route name>") {
		t.Fatalf("a route without its gateway: %v", err)
	}
}
