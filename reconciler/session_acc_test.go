package reconciler_test

import (
	"context"
	"testing"

	"github.com/openziti/edge-api/rest_management_api_client/api_session"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/reconciler"
)

// TestSessionRevokedMidRun deletes the engine's API session through the
// management API; the next call re-authenticates and succeeds.
func TestSessionRevokedMidRun(t *testing.T) {
	ctx := context.Background()
	e := engine(t)
	o, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "rc-reauth", Kind: reconciler.KindAgent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteIdentity(ctx, o.ID) })
	stats := e.Client().Stats()
	if n := stats.Authentications.Load(); n != 1 {
		t.Fatalf("authentications before revocation = %d, want 1", n)
	}

	admin, err := acctest.Shared.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	list, err := admin.API.APISession.ListAPISessions(api_session.NewListAPISessionsParams().WithLimit(ptr(int64(500))), nil)
	if err != nil {
		t.Fatal(err)
	}
	revoked := false
	for _, s := range list.Payload.Data {
		if s.Token != nil && *s.Token == e.Client().SessionToken() {
			if _, err := admin.API.APISession.DeleteAPISessions(api_session.NewDeleteAPISessionsParams().WithID(*s.ID), nil); err != nil {
				t.Fatal(err)
			}
			revoked = true
		}
	}
	if !revoked {
		t.Fatal("the engine's session was not found on the controller")
	}

	e.Reset()
	if _, err := e.ObserveIdentity(ctx, o.ID); err != nil {
		t.Fatalf("observe after revocation: %v", err)
	}
	if n := stats.Authentications.Load(); n != 2 {
		t.Fatalf("authentications after revocation = %d, want 2", n)
	}
}

func ptr[T any](v T) *T { return &v }
