package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/audit"
)

// TestAuditQuestions answers the guide's questions from a trail on disk
// through the command line: why, activity, and show per organisation.
func TestAuditQuestions(t *testing.T) {
	dir := t.TempDir()
	tr, err := audit.Open(dir, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	pulse := &audit.Party{ID: "p1", Name: "pulse-agent", Organization: "enterprise-client"}
	analyst := &audit.Party{ID: "a1", Name: "signal-analyst", Organization: "signals-co"}
	feed := &audit.Service{ID: "s1", Name: "equity-feed", Kind: "endpoint", Owner: "equity-feed", Organization: "markets-co"}
	desk := &audit.Service{ID: "s2", Name: "signal-desk", Kind: "endpoint", Owner: "signal-desk", Organization: "signals-co"}
	grant := &audit.Grant{Workgroups: []string{"markets-channel"}, Contract: "macro-pulse-provider-default"}
	if _, err := tr.Append([]audit.Record{
		{Time: t0, Kind: audit.KindAccessGranted, Key: "g", Identity: pulse, Service: feed, Grant: grant, Change: &audit.Change{Via: "apply", Run: "agentmesh/apply/r1"}},
		{Time: t0.Add(time.Minute), Kind: audit.KindCircuitCreated, Key: "c1", Identity: pulse, Service: feed, Grant: grant},
		{Time: t0.Add(2 * time.Minute), Kind: audit.KindCircuitCreated, Key: "c2", Identity: analyst, Service: desk, Grant: &audit.Grant{Workgroups: []string{"signals-internal"}}},
		{Time: t0.Add(3 * time.Minute), Kind: audit.KindLLMRequest, Key: "l1", Identity: pulse, Service: &audit.Service{ID: "s3", Kind: "gateway", Owner: "pulse-llm", Organization: "enterprise-client"},
			LLM: &audit.LLM{Model: "llama3", Route: "chat", Status: 200, PromptTokens: 15, CompletionTokens: 13, TotalTokens: 28}},
		{Time: t0.Add(10 * time.Minute), Kind: audit.KindAccessRevoked, Key: "r", Identity: pulse, Service: feed,
			Change: &audit.Change{Via: "apply", Run: "agentmesh/apply/r2", By: []audit.Party{{Name: "ops-admin"}}, Intents: []string{"delete membership markets-channel/pulse-agent"}}},
	}); err != nil {
		t.Fatal(err)
	}
	_ = tr.Close()
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := execute(context.Background(), args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, _ := cli("audit", "why", "--dir", dir, "--identity", "pulse-agent", "--service", "equity-feed", "--at", "2026-12-04T10:05:00Z")
	for _, want := range []string{"pulse-agent could reach equity-feed", "markets-channel", "macro-pulse-provider-default", "revoked:    2026-12-04T10:10:00Z", "agentmesh/apply/r2", "delete membership markets-channel/pulse-agent"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("why (exit %d) lacks %q:\n%s", code, want, out)
		}
	}
	if code, out, _ := cli("audit", "why", "--dir", dir, "--identity", "pulse-agent", "--service", "equity-feed", "--at", "2026-12-04T10:11:00Z"); code != 0 || !strings.Contains(out, "could not reach") {
		t.Fatalf("why after the revocation (exit %d):\n%s", code, out)
	}
	code, out, _ = cli("audit", "activity", "--dir", dir, "--identity", "pulse-agent", "--from", "2026-12-04T10:00:30Z", "--to", "2026-12-04T10:09:00Z")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "tokens=15+13=28") {
		t.Fatalf("activity (exit %d):\n%s", code, out)
	}
	code, out, _ = cli("audit", "show", "--dir", dir, "--organization", "enterprise-client", "--output", "json")
	if code != 0 || strings.Contains(out, "signal-analyst") || strings.Count(out, "\n") != 4 {
		t.Fatalf("enterprise-client's view (exit %d):\n%s", code, out)
	}
	code, out, _ = cli("audit", "show", "--dir", dir, "--organization", "signals-co")
	if code != 0 || strings.Contains(out, "pulse-agent") || !strings.Contains(out, "signal-analyst") {
		t.Fatalf("signals-co's view (exit %d):\n%s", code, out)
	}
	if code, _, errOut := cli("audit", "why", "--dir", dir, "--identity", "x", "--service", "y", "--at", "yesterday"); code != 2 || !strings.Contains(errOut, "RFC 3339") {
		t.Fatalf("a bad time: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli("audit", "follow"); code != 2 || !strings.Contains(errOut, "--dir is required") {
		t.Fatalf("follow without --dir: exit %d %s", code, errOut)
	}
}
