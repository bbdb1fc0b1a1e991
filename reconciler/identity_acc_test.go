package reconciler_test

import (
	"context"
	"errors"
	"testing"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/reconciler"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

func TestMain(m *testing.M) { acctest.Main(m) }

var engine = acctest.Engine

func TestIdentityLifecycle(t *testing.T) {
	ctx := context.Background()
	e := engine(t)
	in := &reconciler.Identity{Name: "rc-life", Organization: "acme", Kind: reconciler.KindAgent, RoleAttributes: []string{"b", "a"}, Tags: map[string]string{"team": "x"}}
	o, err := e.CreateIdentity(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteIdentity(ctx, o.ID) })
	if o.EnrollmentJWT == "" || o.EnrollmentExpiresAt.IsZero() || o.Enrolled {
		t.Fatalf("want a fresh enrollment, got jwt=%t expires=%v enrolled=%v", o.EnrollmentJWT != "", o.EnrollmentExpiresAt, o.Enrolled)
	}
	if !o.Managed || o.Organization != "acme" || o.Kind != "agent" || len(o.RoleAttributes) != 2 || o.RoleAttributes[0] != "a" {
		t.Fatalf("unexpected observation %+v", o)
	}
	if len(o.Reserved) != 1 || o.Reserved[0] != "org.acme" {
		t.Fatalf("want org.acme reserved, got %v", o.Reserved)
	}

	// The same declaration twice in one run is refused.
	if _, err := e.CreateIdentity(ctx, in); !errors.Is(err, reconciler.ErrInvalidIntent) {
		t.Fatalf("want a duplicate refusal, got %v", err)
	}
	// A later run re-creating the identical intent (a lost response) adopts
	// the managed object: no duplicate.
	again, err := reconciler.New(e.Client(), nil).CreateIdentity(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != o.ID {
		t.Fatalf("re-create made a duplicate: %s != %s", again.ID, o.ID)
	}
	// Another declaration of the name with different intent is refused.
	other := *in
	other.Organization = "someone-else"
	if _, err := reconciler.New(e.Client(), nil).CreateIdentity(ctx, &other); !errors.Is(err, reconciler.ErrNameTaken) {
		t.Fatalf("want a name clash, got %v", err)
	}

	in.Disabled = true
	in.RoleAttributes = []string{"c"}
	u, err := e.UpdateIdentity(ctx, o.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Disabled || len(u.RoleAttributes) != 1 || u.RoleAttributes[0] != "c" {
		t.Fatalf("update not applied: %+v", u)
	}
	if err := e.DeleteIdentity(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteIdentity(ctx, o.ID); err != nil {
		t.Fatalf("second delete must succeed: %v", err)
	}
	if _, err := reconciler.New(e.Client(), nil).ObserveIdentity(ctx, o.ID); !errors.Is(err, controller.ErrNotFound) {
		t.Fatalf("want not found, got %v", err)
	}
}
