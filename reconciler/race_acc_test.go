package reconciler_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/agentmesh/agentmesh/reconciler"
)

// TestStaleWriterDoesNotDropRoles: two organisations' states (two engines,
// as two Terraform processes) add the same identity to different
// workgroups. Engine A observes the network, then - before A writes - B
// adds its membership and converges. A's writes come from an observation
// that lacks B's membership, yet B's role must survive.
func TestStaleWriterDoesNotDropRoles(t *testing.T) {
	ctx := context.Background()
	setup := engine(t)
	id, err := setup.CreateIdentity(ctx, &reconciler.Identity{Name: "race-pulse", Organization: "enterprise-client", Kind: reconciler.KindAgent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = setup.DeleteIdentity(ctx, id.ID) })
	for _, name := range []string{"race-a", "race-b"} {
		w, err := setup.CreateWorkgroup(ctx, &reconciler.Workgroup{Name: name, OwnerOrganization: "enterprise-client"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = setup.DeleteWorkgroup(ctx, w.ID) })
	}

	a, b := engine(t), engine(t)
	var once sync.Once
	bDone := make(chan error)
	a.SetBeforeApply(func() {
		once.Do(func() {
			go func() {
				_, err := b.CreateMembership(ctx, &reconciler.Membership{Workgroup: "race-b", Identity: id.ID, Role: "admin"})
				bDone <- err
			}()
			if err := <-bDone; err != nil {
				t.Error(err)
			}
		})
	})
	if _, err := a.CreateMembership(ctx, &reconciler.Membership{Workgroup: "race-a", Identity: id.ID, Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	o, err := engine(t).ObserveIdentity(ctx, id.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"wg.race-a", "wg.race-b"} {
		if !slices.Contains(o.Reserved, want) {
			t.Fatalf("role %s lost to the stale writer; identity holds %v", want, o.Reserved)
		}
	}
}
