package reconciler

import (
	"context"
	"testing"
	"time"
)

func TestDeparturesWaitOnlyForLeavingMembers(t *testing.T) {
	var d departures
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
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
	go func() { time.Sleep(20 * time.Millisecond); member() }()
	start := time.Now()
	if !d.waitMembers(ctx, "wg-a") {
		t.Fatal("did not wait for the leaving member")
	}
	if time.Since(start) < 10*time.Millisecond {
		t.Fatal("returned before the member left")
	}
	if d.waitMembers(ctx, "wg-b") {
		t.Fatal("waited for a member of another workgroup")
	}
}
