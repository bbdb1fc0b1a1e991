package reconciler_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/openziti/edge-api/rest_management_api_client/service"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"

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

// TestPassSurvivesAVanishingObject: an endpoint's service is deleted between
// a pass's observation and its writes. The write that refers to it is
// refused by the controller; convergence observes again and succeeds.
func TestPassSurvivesAVanishingObject(t *testing.T) {
	ctx := context.Background()
	setup := engine(t)
	host, err := setup.CreateIdentity(ctx, &reconciler.Identity{Name: "vanish-host", Organization: "vanish-co", Kind: reconciler.KindAgent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = setup.DeleteIdentity(ctx, host.ID) })
	w, err := setup.CreateWorkgroup(ctx, &reconciler.Workgroup{Name: "vanish-wg", OwnerOrganization: "vanish-co"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = setup.DeleteWorkgroup(ctx, w.ID) })
	c, err := setup.CreateContract(ctx, &reconciler.Contract{Name: "vanish-c", OwnerOrganization: "vanish-co", AllowedMessageTypes: []string{"*"}, AccessMode: "open"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = setup.DeleteContract(ctx, c.ID) })
	ep, err := setup.CreateEndpoint(ctx, &reconciler.Endpoint{Name: "vanish-ep", Host: host.ID, Workgroups: []string{"vanish-wg"}, Contract: "vanish-c"})
	if err != nil {
		t.Fatal(err)
	}
	// The endpoint's Bind policy is gone, so the next pass will create it...
	api := setup.Client().API
	f := `name = "agentmesh.bind.vanish-ep"`
	l, err := api.ServicePolicy.ListServicePolicies(service_policy.NewListServicePoliciesParams().WithFilter(&f), nil)
	if err != nil || len(l.Payload.Data) != 1 {
		t.Fatalf("bind policy: %v", err)
	}
	if _, err := api.ServicePolicy.DeleteServicePolicy(service_policy.NewDeleteServicePolicyParams().WithID(*l.Payload.Data[0].ID), nil); err != nil {
		t.Fatal(err)
	}
	// ...and the service vanishes right after that pass has observed it.
	a := engine(t)
	var once sync.Once
	a.SetBeforeApply(func() {
		once.Do(func() {
			if _, err := api.Service.DeleteService(service.NewDeleteServiceParams().WithID(ep.ServiceID), nil); err != nil {
				t.Error(err)
			}
		})
	})
	if err := a.Converge(ctx); err != nil {
		t.Fatalf("convergence must recover from the vanished service: %v", err)
	}
	p, err := engine(t).PlanChanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range p.Changes {
		if strings.Contains(ch.Name, "vanish") {
			t.Fatalf("left unconverged: %v", ch)
		}
	}
	_ = setup.DeleteEndpoint(ctx, ep.ServiceID)
}
