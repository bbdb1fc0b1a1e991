package follow

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/reconciler/derive"
	"github.com/agentmesh/agentmesh/reconciler/intent"
)

func changeEvent(t *testing.T, entityType, changeType, author string, at time.Time, before, after any) event {
	t.Helper()
	raw := map[string]any{"namespace": "entityChange", "timestamp": at, "eventType": changeType, "entityType": entityType,
		"metadata": map[string]any{"author": map[string]any{"type": "identity", "id": author, "name": "name-" + author}}}
	if before != nil {
		raw["initialState"] = before
	}
	if after != nil {
		raw["finalState"] = after
	}
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	var ev event
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestChangeDescriptions: intent changes and derived objects are told
// apart and named in agentmesh's terms; objects agentmesh does not own are
// not described.
func TestChangeDescriptions(t *testing.T) {
	n := &derive.Network{Identities: map[string]*intent.ObservedIdentity{"p1": {ID: "p1", Identity: intent.Identity{Name: "pulse-agent"}}},
		Endpoints: map[string]*derive.ObservedEndpoint{"s1": {Endpoint: intent.Endpoint{Name: "equity-feed"}}}}
	now := time.Now()
	for _, c := range []struct {
		name            string
		ev              event
		intent, derived string
	}{
		{"membership deleted", changeEvent(t, "configs", "deleted", "a", now, map[string]any{"id": "c1", "name": "agentmesh.membership.x",
			"data": map[string]any{"workgroup": "markets-channel", "identity": "p1"}}, nil), "delete membership markets-channel/pulse-agent", ""},
		{"approval created", changeEvent(t, "configs", "created", "a", now, nil, map[string]any{"id": "c2", "name": "agentmesh.approval.x",
			"data": map[string]any{"endpoint": "s1", "consumer": "p1"}}), "create approval equity-feed/pulse-agent", ""},
		{"contract updated", changeEvent(t, "configs", "updated", "a", now, map[string]any{"id": "c3", "name": "agentmesh.contract.default"},
			map[string]any{"id": "c3", "name": "agentmesh.contract.default"}), "update contract default", ""},
		{"derived config", changeEvent(t, "configs", "created", "a", now, nil, map[string]any{"id": "c4", "name": "agentmesh.intercept.equity-feed"}),
			"", "create config agentmesh.intercept.equity-feed"},
		{"someone else's config", changeEvent(t, "configs", "created", "a", now, nil, map[string]any{"id": "c5", "name": "zrok.proxy"}), "", ""},
		{"roles", changeEvent(t, "identities", "updated", "a", now, map[string]any{"id": "p1", "name": "pulse-agent", "roleAttributes": []string{"wg.a", "mine"}},
			map[string]any{"id": "p1", "name": "pulse-agent", "roleAttributes": []string{"mine"}}), "", "update identity pulse-agent roles [wg.a] -> []"},
		{"user roles only", changeEvent(t, "identities", "updated", "a", now, map[string]any{"id": "p1", "name": "pulse-agent", "roleAttributes": []string{"x"}},
			map[string]any{"id": "p1", "name": "pulse-agent", "roleAttributes": []string{"y"}}), "", ""},
		{"disabled", changeEvent(t, "identities", "updated", "a", now, map[string]any{"id": "p1", "name": "pulse-agent"},
			map[string]any{"id": "p1", "name": "pulse-agent", "disabled": true}), "update identity pulse-agent disabled=true", ""},
		{"policy", changeEvent(t, "servicePolicies", "deleted", "a", now, map[string]any{"id": "sp", "name": "agentmesh.dial.equity-feed.markets-channel"}, nil),
			"", "delete service-policy agentmesh.dial.equity-feed.markets-channel"},
		{"endpoint service", changeEvent(t, "services", "created", "a", now, nil, map[string]any{"id": "s1", "name": "equity-feed"}), "create service equity-feed", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, obj := c.ev.change(names{n})
			if in != c.intent || obj != c.derived {
				t.Fatalf("got (%q, %q), want (%q, %q)", in, obj, c.intent, c.derived)
			}
		})
	}
}

// TestRunAttribution: an identity's writes belong to the run it last
// announced, until that run lapses; writes with no run are unattributed,
// per author.
func TestRunAttribution(t *testing.T) {
	f := &Follower{Log: slog.New(slog.DiscardHandler), RunLapse: time.Minute, runs: map[string]*run{}, touched: map[string]bool{}, current: map[string]run{},
		n: &derive.Network{Identities: map[string]*intent.ObservedIdentity{}}}
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	marker := func(author, via, id string, at time.Time) event {
		return changeEvent(t, "configs", "updated", author, at, nil, map[string]any{"id": "m", "name": "agentmesh.run." + via, "data": map[string]any{"via": via, "run": id}})
	}
	policy := func(author, name string, at time.Time) event {
		return changeEvent(t, "servicePolicies", "deleted", author, at, map[string]any{"id": name, "name": "agentmesh.dial." + name}, nil)
	}
	attribution := func() string {
		f.describe(names{f.n})
		c := f.attribution()
		f.touched = map[string]bool{}
		return c.Via + " " + c.Run + " " + strings.Join(c.Objects, ";")
	}
	if f.entityChange(marker("tf", "apply", "agentmesh/apply/r1", t0)) {
		t.Fatal("a run marker counts as a change")
	}
	f.entityChange(policy("tf", "a", t0.Add(time.Second)))
	if got := attribution(); got != "apply agentmesh/apply/r1 delete service-policy agentmesh.dial.a" {
		t.Fatalf("the apply's write: %q", got)
	}
	// Another identity, with no run, writing at the same time.
	f.entityChange(policy("person", "b", t0.Add(2*time.Second)))
	if got := attribution(); got != "unattributed  delete service-policy agentmesh.dial.b" {
		t.Fatalf("a hand edit: %q", got)
	}
	// The apply's identity, long after its run: a hand edit.
	f.entityChange(policy("tf", "c", t0.Add(5*time.Minute)))
	if got := attribution(); got != "unattributed  delete service-policy agentmesh.dial.c" {
		t.Fatalf("a write after the run lapsed: %q", got)
	}
	f.entityChange(marker("rc", "reconcile", "agentmesh/reconcile/r2", t0.Add(6*time.Minute)))
	f.entityChange(policy("rc", "d", t0.Add(6*time.Minute)))
	if got := attribution(); got != "reconcile agentmesh/reconcile/r2 delete service-policy agentmesh.dial.d" {
		t.Fatalf("the reconcile's write: %q", got)
	}
	if got := attribution(); got != "unattributed  " {
		t.Fatalf("a pass with no writes: %q", got)
	}
}

// TestGrantAt: a request fact read late is joined with the network in
// force when it happened: the first observed after it when nothing
// changed in between, else the last observed before it; before what the
// follower knows, the oldest it holds, marked approximate.
func TestGrantAt(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	net := func(at time.Time, member bool) *derive.Network {
		n := &derive.Network{Now: at, Identities: map[string]*intent.ObservedIdentity{"a": {ID: "a", Identity: intent.Identity{Name: "a", Organization: "o"}},
			"h": {ID: "h", Identity: intent.Identity{Name: "h", Organization: "o"}}},
			Workgroups: map[string]*intent.Stored[intent.Workgroup]{"w": {Value: intent.Workgroup{Name: "w", OwnerOrganization: "o"}}},
			Contracts:  map[string]*intent.Stored[intent.Contract]{"c": {Value: intent.Contract{Name: "c"}}},
			Endpoints:  map[string]*derive.ObservedEndpoint{"ep": {Endpoint: intent.Endpoint{Name: "ep", Host: "h", Contract: "c", Workgroups: []string{"w"}}}}}
		if member {
			n.Memberships = []*intent.Stored[intent.Membership]{{Value: intent.Membership{Workgroup: "w", Identity: "a"}}}
		}
		return n
	}
	f := &Follower{known: t0, past: []observed{
		{at: t0, n: net(t0, false)},
		{at: t0.Add(10 * time.Second), n: net(t0.Add(10*time.Second), true)}, // the membership was made at t0+9s
		{at: t0.Add(20 * time.Second), n: net(t0.Add(20*time.Second), true)},
	}, changed: []time.Time{t0.Add(9 * time.Second)}}
	f.n = f.past[2].n
	for _, c := range []struct {
		at       time.Duration
		none     bool
		approx   bool
		scenario string
	}{
		{-time.Minute, true, true, "before the follower knew anything"},
		{5 * time.Second, true, false, "before the membership: the network observed before it"},
		{9500 * time.Millisecond, false, false, "after the membership, before it was observed: the next observation"},
		{15 * time.Second, false, false, "between two observations with no change"},
	} {
		g := f.grantAt("a", "ep", t0.Add(c.at))
		if g.None != c.none || g.Approximate != c.approx {
			t.Errorf("%s: %+v", c.scenario, g)
		}
	}
}

// TestDialRecords: session and circuit events become records naming the
// identity and service with the grant in force; a session's token is never
// read, so it cannot reach the trail; control-service plumbing is skipped.
func TestDialRecords(t *testing.T) {
	f := &Follower{Log: slog.New(slog.DiscardHandler), runs: map[string]*run{}, touched: map[string]bool{}, current: map[string]run{},
		lastObs: time.Now(), gatewaySvcs: map[string]string{"ctl": "agentmesh.ctl.g"}}
	f.n = &derive.Network{Identities: map[string]*intent.ObservedIdentity{
		"a": {ID: "a", Identity: intent.Identity{Name: "pulse-agent", Organization: "client"}},
		"h": {ID: "h", Identity: intent.Identity{Name: "feed-host", Organization: "markets"}}},
		Workgroups:  map[string]*intent.Stored[intent.Workgroup]{"w": {Value: intent.Workgroup{Name: "w", OwnerOrganization: "markets", ParticipatingOrganizations: []string{"client"}}}},
		Memberships: []*intent.Stored[intent.Membership]{{Value: intent.Membership{Workgroup: "w", Identity: "a"}}},
		Contracts:   map[string]*intent.Stored[intent.Contract]{"c": {Value: intent.Contract{Name: "c"}}},
		Endpoints:   map[string]*derive.ObservedEndpoint{"ep": {Endpoint: intent.Endpoint{Name: "equity-feed", Host: "h", Contract: "c", Workgroups: []string{"w"}}}}}
	for _, raw := range []string{
		`{"namespace":"session","timestamp":"2026-12-04T10:00:00Z","event_type":"created","session_type":"Dial","id":"s1","token":"tok-secret-value","api_session_id":"as1","identity_id":"a","service_id":"ep"}`,
		`{"namespace":"circuit","timestamp":"2026-12-04T10:00:01Z","event_type":"created","circuit_id":"c1","service_id":"ep","tags":{"clientId":"a","hostId":"h","serviceId":"ep"}}`,
		`{"namespace":"circuit","timestamp":"2026-12-04T10:00:02Z","event_type":"deleted","circuit_id":"c1","service_id":"ep","duration":1500000000,"tags":{"clientId":"a"}}`,
		`{"namespace":"circuit","timestamp":"2026-12-04T10:00:03Z","event_type":"created","circuit_id":"c2","service_id":"ctl","tags":{"clientId":"a"}}`,
	} {
		if f.handle(t.Context(), json.RawMessage(raw)) {
			t.Fatalf("a dial counted as a change: %s", raw)
		}
	}
	if len(f.buf) != 3 {
		t.Fatalf("%d records, want 3 (the control service's circuit is skipped)", len(f.buf))
	}
	b, _ := json.Marshal(f.buf)
	if strings.Contains(string(b), "tok-secret-value") {
		t.Fatal("a session token reached a record")
	}
	s, c, closed := f.buf[0], f.buf[1], f.buf[2]
	if s.Kind != "session.created" || s.Session != "s1" || s.Identity.Name != "pulse-agent" || s.Service.Owner != "equity-feed" || s.Service.Organization != "markets" ||
		s.Grant == nil || s.Grant.Contract != "c" {
		t.Fatalf("session: %+v %+v %+v", s, s.Identity, s.Grant)
	}
	if c.Kind != "circuit.created" || c.Identity.Organization != "client" || c.Grant == nil || len(c.Grant.Workgroups) != 1 || c.Key != "circuit/c1/created" {
		t.Fatalf("circuit: %+v", c)
	}
	if closed.Kind != "circuit.closed" || closed.Circuit.DurationMS != 1500 || closed.Grant != nil {
		t.Fatalf("closed circuit: %+v %+v", closed, closed.Circuit)
	}
}
