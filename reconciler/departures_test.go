package reconciler

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestDeparturesWaitOnlyForLeavingMembers(t *testing.T) {
	var d departures
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adminA := d.start("a1", "wg-a", true)
	defer adminA()
	adminB := d.start("b1", "wg-b", true)
	defer adminB()
	// Admins never wait for admins: no deadlock, nothing to wait for.
	if d.waitMembers(ctx, "wg-a") || d.waitMembers(ctx, "wg-b") {
		t.Fatal("waited for an admin")
	}
	member := d.start("a2", "wg-a", false)
	var released atomic.Bool
	go func() { time.Sleep(200 * time.Millisecond); released.Store(true); member() }()
	if !d.waitMembers(ctx, "wg-a") {
		t.Fatal("did not wait for the leaving member")
	}
	if !released.Load() {
		t.Fatal("returned before the member left")
	}
	if d.waitMembers(ctx, "wg-b") {
		t.Fatal("waited for a member of another workgroup")
	}
}
