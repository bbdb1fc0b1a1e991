package reconciler_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/openziti/edge-api/rest_management_api_client/service"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"

	"github.com/agentmesh/agentmesh/reconciler"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// dialers asks the controller itself which identities may dial a service.
func dialers(t *testing.T, e *reconciler.Engine, sid string) []string {
	t.Helper()
	r, err := e.Client().API.Service.ListServiceIdentities(service.NewListServiceIdentitiesParams().WithID(sid).WithPolicyType(ptr("dial")).WithLimit(ptr(int64(500))), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range r.Payload.Data {
		names = append(names, *i.Name)
	}
	sort.Strings(names)
	return names
}

func TestGovernanceDerivation(t *testing.T) {
	ctx := context.Background()
	e := engine(t)
	mk := func(name, org string) string {
		o, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: name, Organization: org, Kind: reconciler.KindAgent})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.DeleteIdentity(ctx, o.ID) })
		return o.ID
	}
	equity, news, pulse := mk("g-equity", "markets-co"), mk("g-news", "signals-co"), mk("g-pulse", "enterprise-client")

	wg := func(name, owner string, parts ...string) *reconciler.Stored[reconciler.Workgroup] {
		w, err := e.CreateWorkgroup(ctx, &reconciler.Workgroup{Name: name, OwnerOrganization: owner, ParticipatingOrganizations: parts})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.DeleteWorkgroup(ctx, w.ID) })
		return w
	}
	wg("g-markets-channel", "markets-co", "enterprise-client")
	wg("g-signals-channel", "signals-co", "enterprise-client")
	vetted := wg("g-vetted", "enterprise-client", "markets-co")

	// Cross-org membership without participation is refused.
	if _, err := e.CreateMembership(ctx, &reconciler.Membership{Workgroup: "g-markets-channel", Identity: news, Role: "member"}); !errors.Is(err, reconciler.ErrInvalidIntent) || !strings.Contains(err.Error(), "neither the owner") {
		t.Fatalf("want a refusal, got %v", err)
	}
	member := func(w, id, role string) *reconciler.Stored[reconciler.Membership] {
		m, err := e.CreateMembership(ctx, &reconciler.Membership{Workgroup: w, Identity: id, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.DeleteMembership(ctx, m.ID) })
		return m
	}
	member("g-markets-channel", equity, "admin")
	pulseMarkets := member("g-markets-channel", pulse, "member")
	member("g-signals-channel", news, "admin")
	member("g-signals-channel", pulse, "member")

	con, err := e.CreateContract(ctx, &reconciler.Contract{Name: "g-default", OwnerOrganization: "markets-co", MaxDurationSeconds: 60, AllowedMessageTypes: []string{"*"}, AccessMode: "open"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteContract(ctx, con.ID) })
	if _, err := e.CreateContract(ctx, &reconciler.Contract{Name: "g-negative", OwnerOrganization: "markets-co", MaxMessageBytes: -1, AccessMode: "open"}); !errors.Is(err, reconciler.ErrInvalidIntent) {
		t.Fatalf("negative limit: %v", err)
	}

	// An endpoint scoped to a missing workgroup is refused, and nothing is left.
	if _, err := e.CreateEndpoint(ctx, &reconciler.Endpoint{Name: "g-bad", Host: equity, Workgroups: []string{"g-nope"}, Contract: "g-default"}); !errors.Is(err, reconciler.ErrInvalidIntent) || !strings.Contains(err.Error(), `workgroup "g-nope" does not exist`) {
		t.Fatalf("missing workgroup: %v", err)
	}
	ep, err := e.CreateEndpoint(ctx, &reconciler.Endpoint{Name: "g-equity-feed", Host: equity, Workgroups: []string{"g-markets-channel"}, Contract: "g-default",
		Capabilities: []reconciler.Capability{{Name: "quotes"}}, InteractionPatterns: []string{"stream"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteEndpoint(ctx, ep.ServiceID) })
	newsEp, err := e.CreateEndpoint(ctx, &reconciler.Endpoint{Name: "g-news-pulse", Host: news, Workgroups: []string{"g-signals-channel"}, Contract: "g-default"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteEndpoint(ctx, newsEp.ServiceID) })

	if got := dialers(t, e, ep.ServiceID); fmt.Sprint(got) != "[g-equity g-pulse]" {
		t.Fatalf("equity-feed dialers: %v", got)
	}
	if got := dialers(t, e, newsEp.ServiceID); fmt.Sprint(got) != "[g-news g-pulse]" {
		t.Fatalf("news-pulse dialers: %v", got)
	}

	// The contract now requires g-vetted: only its members keep access,
	// on every endpoint under the contract, in one call.
	c := con.Value
	c.RequiredWorkgroups = []string{"g-vetted"}
	if _, err := e.UpdateContract(ctx, con.ID, &c); err != nil {
		t.Fatal(err)
	}
	if got := dialers(t, e, ep.ServiceID); len(got) != 0 {
		t.Fatalf("after requiring g-vetted nobody is a member, yet: %v", got)
	}
	member("g-vetted", equity, "admin")
	if got := dialers(t, e, ep.ServiceID); fmt.Sprint(got) != "[g-equity]" {
		t.Fatalf("after joining g-vetted: %v", got)
	}
	_ = vetted

	// Removing pulse's membership removes its wg role.
	c.RequiredWorkgroups = nil
	if _, err := e.UpdateContract(ctx, con.ID, &c); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteMembership(ctx, pulseMarkets.ID); err != nil {
		t.Fatal(err)
	}
	if got := dialers(t, e, ep.ServiceID); fmt.Sprint(got) != "[g-equity]" {
		t.Fatalf("after pulse left: %v", got)
	}

	// In-use objects refuse deletion.
	if err := e.DeleteContract(ctx, con.ID); !errors.Is(err, reconciler.ErrInUse) {
		t.Fatalf("contract in use: %v", err)
	}

	// Drift: delete a Dial policy by hand and strip a wg role; one pass repairs both.
	e2 := engine(t)
	pols, err := e2.Client().API.ServicePolicy.ListServicePolicies(service_policy.NewListServicePoliciesParams().WithFilter(ptr(`name = "agentmesh.dial.g-news-pulse.g-signals-channel"`)), nil)
	if err != nil || len(pols.Payload.Data) != 1 {
		t.Fatalf("dial policy not found: %v", err)
	}
	if _, err := e2.Client().API.ServicePolicy.DeleteServicePolicy(service_policy.NewDeleteServicePolicyParams().WithID(*pols.Payload.Data[0].ID), nil); err != nil {
		t.Fatal(err)
	}
	plan, err := e2.PlanChanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var lost []string
	for _, g := range plan.Gained {
		lost = append(lost, plan.Describe(g))
	}
	if !slices.Contains(lost, "g-news -> g-news-pulse") || !slices.Contains(lost, "g-pulse -> g-news-pulse") {
		t.Fatalf("the access diff of the repair should regain news and pulse: %v (changes %v)", lost, plan.Changes)
	}
	if _, err := e2.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got := dialers(t, e, newsEp.ServiceID); fmt.Sprint(got) != "[g-news g-pulse]" {
		t.Fatalf("after repair: %v", got)
	}
	again, err := e2.PlanChanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Changes) != 0 {
		t.Fatalf("a converged network plans no changes, got %v", again.Changes)
	}
	if _, err := e.ReadContract(ctx, "nope"); !controller.IsNotFound(err) {
		t.Fatalf("want not found, got %v", err)
	}
}
