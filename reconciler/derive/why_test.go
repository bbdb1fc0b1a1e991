package derive

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// whyAll answers Why for every identity and endpoint, in dialers' format.
func whyAll(b *netBuilder) string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(b.n.Identities)) {
		for _, sid := range slices.Sorted(maps.Keys(b.n.Endpoints)) {
			if _, ok := Why(b.n, id, sid); ok {
				out = append(out, id+">"+sid)
			}
		}
	}
	return strings.Join(out, " ")
}

// TestWhyAgreesWithDerive holds Why to the policies Derive writes: for
// every network of TestDeriveAccess's kinds, Why grants exactly what the
// derived policies let through.
func TestWhyAgreesWithDerive(t *testing.T) {
	nets := map[string]*netBuilder{
		"scope only": newNet().identity("a", "o").identity("b", "o").identity("h", "o").workgroup("w", "o").member("w", "a").
			contract("c").endpoint("ep", "h", "c", "w"),
		"required workgroups": newNet().identity("a", "o").identity("b", "o").identity("h", "o").workgroup("w", "o").workgroup("r", "o").
			member("w", "a").member("w", "b").member("r", "b").contract("c", "r").endpoint("ep", "h", "c", "w"),
		"organisation dropped": newNet().identity("a", "o").identity("p", "partner").identity("h", "o").workgroup("w", "o").
			member("w", "a").member("w", "p").contract("c").endpoint("ep", "h", "c", "w"),
		"two scopes": newNet().identity("a", "o").identity("b", "o").identity("h", "o").workgroup("w1", "o").workgroup("w2", "o").
			member("w1", "a").member("w2", "b").contract("c").endpoint("ep", "h", "c", "w1", "w2"),
		"approval": newNet().identity("a", "o").identity("b", "o").identity("h", "o").workgroup("w", "o").member("w", "a").member("w", "b").
			contract("c").approvalRequired("c").endpoint("ep", "h", "c", "w").approval("ep", "a", "o", "").at("2026-01-01T00:00:00Z"),
		"lapsed approval": newNet().identity("a", "o").identity("h", "o").workgroup("w", "o").member("w", "a").
			contract("c").approvalRequired("c").endpoint("ep", "h", "c", "w").approval("ep", "a", "o", "2025-01-01T00:00:00Z").at("2026-01-01T00:00:00Z"),
		"approval by the wrong organisation": newNet().identity("a", "o").identity("h", "o").workgroup("w", "o").member("w", "a").
			contract("c").approvalRequired("c").endpoint("ep", "h", "c", "w").approval("ep", "a", "other", "").at("2026-01-01T00:00:00Z"),
		"missing contract": newNet().identity("a", "o").identity("h", "o").workgroup("w", "o").member("w", "a").endpoint("ep", "h", "nope", "w"),
	}
	for name, b := range nets {
		t.Run(name, func(t *testing.T) {
			if got, want := whyAll(b), dialers(b); got != want {
				t.Fatalf("Why grants %q, the derived policies %q", got, want)
			}
		})
	}
}

func TestWhyNamesTheGrant(t *testing.T) {
	b := newNet().identity("pulse", "client").identity("feed", "markets").workgroup("markets-channel", "markets", "client").
		workgroup("verified", "client").member("markets-channel", "pulse").member("verified", "pulse").
		contract("provider-default", "verified").endpoint("equity-feed", "feed", "provider-default", "markets-channel")
	r, ok := Why(b.n, "pulse", "equity-feed")
	if !ok {
		t.Fatal("pulse-agent may not dial equity-feed")
	}
	got := fmt.Sprintf("%s %s org=%s wg=%v contract=%s", r.Kind, r.Name, r.Organization, r.Workgroups, r.Contract)
	if want := "endpoint equity-feed org=markets wg=[markets-channel verified] contract=provider-default"; got != want {
		t.Fatalf("reason %q, want %q", got, want)
	}
	// The same network without the membership grants nothing.
	b.n.Memberships = b.n.Memberships[1:]
	if r, ok := Why(b.n, "pulse", "equity-feed"); ok {
		t.Fatalf("granted after the membership went: %+v", r)
	}
}

func TestWhyGateway(t *testing.T) {
	b := newNet().identity("gw", "ops").identity("a", "ops").identity("b", "ops").workgroup("users", "ops").member("users", "a").
		gateway("g", "gw").llmRoute("g", "chat", "llama3", []string{"users"}).llmRoute("g", "direct", "llama3", nil, "b")
	b.n.GatewayServices = map[string]GatewayService{
		DataPlaneService("g", "a"): {ID: "svc-a", Owner: "gateway/g"},
		DataPlaneService("g", "b"): {ID: "svc-b", Owner: "gateway/g"},
		ControlService("g"):        {ID: "svc-ctl", Owner: "gateway/g"},
	}
	r, ok := Why(b.n, "a", "svc-a")
	if !ok || r.Kind != "gateway" || r.Name != "g" || r.Organization != "ops" || !slices.Equal(r.Routes, []string{"chat"}) || !slices.Equal(r.Workgroups, []string{"users"}) {
		t.Fatalf("a on its data plane: %+v %t", r, ok)
	}
	if r, ok := Why(b.n, "b", "svc-b"); !ok || !slices.Equal(r.Routes, []string{"direct"}) || len(r.Workgroups) != 0 {
		t.Fatalf("b, named by its route: %+v %t", r, ok)
	}
	for _, c := range [][2]string{{"a", "svc-b"}, {"b", "svc-a"}, {"a", "svc-ctl"}} {
		if r, ok := Why(b.n, c[0], c[1]); ok {
			t.Fatalf("%s granted %s: %+v", c[0], c[1], r)
		}
	}
	b.disable("a")
	if _, ok := Why(b.n, "a", "svc-a"); ok {
		t.Fatal("a disabled identity is granted its data plane")
	}
}

// TestLiveAccessReadsWhatExists: the policies that exist over the roles
// identities hold, not what intent wants; disabled identities reach
// nothing.
func TestLiveAccessReadsWhatExists(t *testing.T) {
	b := newNet().identity("a", "o").identity("b", "o").identity("h", "o").workgroup("w", "o").member("w", "a").member("w", "b").
		contract("c").endpoint("ep", "h", "c", "w")
	d := Derive(b.n)
	b.n.Policies = d.Policies
	if got := LiveAccess(b.n); len(got) != 0 {
		t.Fatalf("access before any identity holds its role: %v", got)
	}
	for id, roles := range d.Roles {
		b.n.Identities[id].Reserved = roles
	}
	b.disable("b")
	got := LiveAccess(b.n)
	if len(got) != 1 || !got[Grant{"a", "ep"}] {
		t.Fatalf("live access %v, want only a>ep", got)
	}
}

// TestWhyGatewayAgreesWithDerive holds Why to the data planes Derive
// makes: an identity is granted exactly its own data-plane service, and
// only while a route of an llm gateway serves it.
func TestWhyGatewayAgreesWithDerive(t *testing.T) {
	b := newNet().identity("gw", "ops").identity("a", "ops").identity("b", "ops").identity("c", "partner").identity("d", "ops").
		workgroup("users", "ops").member("users", "a").member("users", "c").member("users", "d").
		gateway("g", "gw").llmRoute("g", "chat", "llama3", []string{"users"}).llmRoute("g", "direct", "llama3", nil, "b").disable("d")
	d := Derive(b.n)
	b.n.GatewayServices = map[string]GatewayService{}
	for name, ds := range d.DarkServices {
		b.n.GatewayServices[name] = GatewayService{ID: "id-" + name, Owner: ds.Owner}
	}
	if len(d.DarkServices) != 2 {
		t.Fatalf("data planes %v, want a's and b's", slices.Collect(maps.Keys(d.DarkServices)))
	}
	for _, id := range slices.Sorted(maps.Keys(b.n.Identities)) {
		for name := range b.n.GatewayServices {
			want := d.DarkServices[name].Dialer == id
			if _, got := Why(b.n, id, "id-"+name); got != want {
				t.Errorf("Why(%s, %s) = %t, Derive grants %t", id, name, got, want)
			}
		}
	}
	// The same registration as an mcp gateway has no data planes.
	b.n.Gateways["g"].Value.Kind = "mcp"
	for name := range b.n.GatewayServices {
		if _, ok := Why(b.n, "a", "id-"+name); ok {
			t.Fatalf("an mcp gateway grants %s", name)
		}
	}
}
