package reconciler_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/reconciler"
)

// TestApprovalChecks: an approval under an open contract is allowed with
// a warning that it changes nothing; another organisation's approval, a
// missing consumer and a past expiry are refused as invalid intent, and
// nothing is created.
func TestApprovalChecks(t *testing.T) {
	ctx := context.Background()
	e := engine(t)
	host, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "apc-host", Organization: "apc-co", Kind: reconciler.KindAgent})
	if err != nil {
		t.Fatal(err)
	}
	consumer, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "apc-consumer", Organization: "apc-co", Kind: reconciler.KindAgent})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateWorkgroup(ctx, &reconciler.Workgroup{Name: "apc-desk", OwnerOrganization: "apc-co"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateContract(ctx, &reconciler.Contract{Name: "apc-open", OwnerOrganization: "apc-co", AllowedMessageTypes: []string{"*"}, AccessMode: "open"}); err != nil {
		t.Fatal(err)
	}
	ep, err := e.CreateEndpoint(ctx, &reconciler.Endpoint{Name: "apc-feed", Host: host.ID, Workgroups: []string{"apc-desk"}, Contract: "apc-open"})
	if err != nil {
		t.Fatal(err)
	}
	ok := &reconciler.Approval{Endpoint: ep.ServiceID, Consumer: consumer.ID, Organization: "apc-co"}
	warning, err := e.CheckApproval(ctx, ok)
	if err != nil || !strings.Contains(warning, `whose access_mode is "open"`) || !strings.Contains(warning, "changes nothing") {
		t.Fatalf("an approval under an open contract: warning %q, err %v", warning, err)
	}
	for name, a := range map[string]*reconciler.Approval{
		"another organisation": {Endpoint: ep.ServiceID, Consumer: consumer.ID, Organization: "other-co"},
		"a missing consumer":   {Endpoint: ep.ServiceID, Consumer: "no-such-identity", Organization: "apc-co"},
		"a missing endpoint":   {Endpoint: "no-such-service", Consumer: consumer.ID, Organization: "apc-co"},
		"a past expiry":        {Endpoint: ep.ServiceID, Consumer: consumer.ID, Organization: "apc-co", ExpiresAt: time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)},
	} {
		if _, err := e.CreateApproval(ctx, a); !errors.Is(err, reconciler.ErrInvalidIntent) {
			t.Errorf("%s: CreateApproval = %v, want invalid intent", name, err)
		}
	}
	if _, err := e.ResolveImport(ctx, reconciler.ImportApproval, "apc-feed/apc-consumer"); err == nil {
		t.Fatal("a refused approval was created")
	}
}
