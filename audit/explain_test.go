package audit

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

var (
	pulse   = &Party{ID: "id-pulse", Name: "pulse-agent", Organization: "enterprise-client"}
	feeder  = &Party{ID: "id-fx", Name: "fx-agent", Organization: "markets-co"}
	equity  = &Service{ID: "svc-eq", Name: "equity-feed", Kind: "endpoint", Owner: "equity-feed", Organization: "markets-co"}
	signals = &Service{ID: "svc-sig", Name: "signal-desk", Kind: "endpoint", Owner: "signal-desk", Organization: "signals-co"}
	grant   = &Grant{Workgroups: []string{"markets-channel"}, Contract: "macro-pulse-provider-default"}
)

func trail() []Record {
	return []Record{
		{Seq: 1, Time: at(0), Kind: KindAccessGranted, Identity: pulse, Service: equity, Grant: grant, Change: &Change{Via: "apply", Run: "r1"}},
		{Seq: 2, Time: at(5), Kind: KindSessionCreated, Identity: pulse, Service: equity, Grant: grant},
		{Seq: 3, Time: at(6), Kind: KindCircuitCreated, Identity: pulse, Service: equity, Grant: grant},
		{Seq: 4, Time: at(7), Kind: KindSessionCreated, Identity: feeder, Service: signals, Grant: &Grant{None: true}},
		{Seq: 5, Time: at(20), Kind: KindAccessRevoked, Identity: pulse, Service: equity,
			Change: &Change{Via: "apply", Run: "r2", By: []Party{{Name: "admin"}}, Intents: []string{"delete membership markets-channel/pulse-agent"}}},
	}
}

func TestWhy(t *testing.T) {
	a := Why(trail(), "pulse-agent", "equity-feed", at(10))
	if !a.Allowed || a.Grant == nil || a.Grant.Contract != "macro-pulse-provider-default" || len(a.Dials) != 2 || a.Since.Seq != 1 {
		t.Fatalf("at 10: %+v", a)
	}
	if a.Revoked == nil || a.Revoked.Seq != 5 {
		t.Fatalf("the later revocation is not named: %+v", a.Revoked)
	}
	if s := a.String(); !strings.Contains(s, "markets-channel") || !strings.Contains(s, "delete membership markets-channel/pulse-agent") {
		t.Fatalf("rendered:\n%s", s)
	}
	a = Why(trail(), "id-pulse", "svc-eq", at(30))
	if a.Allowed || a.Since.Seq != 5 {
		t.Fatalf("at 30: %+v", a)
	}
	if s := a.String(); !strings.Contains(s, "revoked at 2026-12-04T10:20:00Z") {
		t.Fatalf("rendered:\n%s", s)
	}
	// Before the trail knew anything.
	if a := Why(trail()[1:], "pulse-agent", "equity-feed", at(1)); a.Allowed {
		t.Fatalf("allowed with no evidence: %+v", a)
	}
	// A dial is evidence of access granted before the trail began.
	if a := Why(trail()[1:], "pulse-agent", "equity-feed", at(5)); !a.Allowed || a.Grant.Contract == "" {
		t.Fatalf("the dial's grant is not the answer: %+v", a)
	}
}

func TestActivity(t *testing.T) {
	got := Activity(trail(), "pulse-agent", at(5), at(20))
	if len(got) != 3 || got[0].Seq != 2 || got[2].Seq != 5 {
		t.Fatalf("activity %+v", got)
	}
}

func TestVisibleShowsNothingOfAnotherOrganisation(t *testing.T) {
	for _, r := range Visible(trail(), "signals-co") {
		if r.Seq != 4 {
			t.Fatalf("signals-co sees %+v", r)
		}
	}
	if got := Visible(trail(), "enterprise-client"); len(got) != 4 {
		t.Fatalf("enterprise-client sees %d records, want its own 4", len(got))
	}
	if got := Visible(trail(), "nobody"); len(got) != 0 {
		t.Fatalf("an unknown organisation sees %+v", got)
	}
}

// TestVisibleKeepsOnlyTheRecordsOwnChanges: one run changed two
// organisations' access; each sees only the lines about its own.
func TestVisibleKeepsOnlyTheRecordsOwnChanges(t *testing.T) {
	run := &Change{Via: "apply", Run: "r", Intents: []string{"delete membership markets-channel/pulse-agent", "delete membership signals-internal/fx-agent"},
		Objects: []string{"update identity pulse-agent roles [wg.markets-channel] -> []", "delete service-policy agentmesh.dial.signal-desk.signals-internal"}}
	recs := []Record{
		{Seq: 1, Kind: KindAccessRevoked, Identity: pulse, Service: equity, Change: run},
		{Seq: 2, Kind: KindAccessRevoked, Identity: feeder, Service: signals, Change: run},
		{Seq: 3, Kind: KindTrailGap, Gap: &Gap{}},
		{Seq: 4, Kind: KindTrailGap, Service: &Service{Kind: "gateway", Owner: "fx-llm", Organization: "markets-co"}, Note: "gateway fx-llm lost facts"},
	}
	got := Visible(recs, "enterprise-client")
	if len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 3 {
		t.Fatalf("enterprise-client sees %+v", got)
	}
	c := got[0].Change
	if len(c.Intents) != 1 || c.Intents[0] != "delete membership markets-channel/pulse-agent" || len(c.Objects) != 1 || !strings.Contains(c.Objects[0], "pulse-agent") {
		t.Fatalf("enterprise-client's view of the run: %+v", c)
	}
	if len(run.Intents) != 2 {
		t.Fatal("Visible changed the trail's own record")
	}
	got = Visible(recs, "signals-co")
	if len(got) != 2 || got[0].Seq != 2 || len(got[0].Change.Intents) != 1 || got[0].Change.Intents[0] != "delete membership signals-internal/fx-agent" ||
		len(got[0].Change.Objects) != 1 || !strings.Contains(got[0].Change.Objects[0], "signal-desk") {
		t.Fatalf("signals-co sees %+v", got)
	}
}
