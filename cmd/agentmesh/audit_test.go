package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_model"

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

// TestAuditFollowCLI runs `agentmesh audit follow --stdout` against the
// real controller: a hand edit revokes a reader's access and `agentmesh
// reconcile --once` repairs it; the trail on disk and the copy on stdout
// hold the same records, and `audit why` names the reconcile as what
// granted the access again.
func TestAuditFollowCLI(t *testing.T) {
	ctx := context.Background()
	e, reader, _ := scenarioNamed(t, "aucli", "rain", "rain-co")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	var stdout, stderr syncBuffer
	fctx, stop := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		done <- execute(fctx, []string{"audit", "follow", "--dir", dir, "--stdout", "--settle", "100ms", "--log-format", "json"}, &stdout, &stderr)
	}()
	wait := func(what string, ok func([]audit.Record) bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			recs, err := audit.Read(dir)
			if err == nil && ok(recs) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the trail did not show %s within 60s (%v); stderr:\n%s", what, err, stderr.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	has := func(kind, via string) func([]audit.Record) bool {
		return func(recs []audit.Record) bool {
			for _, r := range recs {
				if r.Kind == kind && r.Identity.Matches("aucli-reader") && r.Service.Matches("aucli-rain-feed") && r.Change != nil && r.Change.Via == via {
					return true
				}
			}
			return false
		}
	}
	wait("the access in force", has(audit.KindAccessGranted, "observed"))
	api := e.Client().API
	if _, err := api.Identity.PatchIdentity(identity.NewPatchIdentityParams().WithID(reader).WithIdentity(&rest_model.IdentityPatch{RoleAttributes: &rest_model.Attributes{}}), nil); err != nil {
		t.Fatal(err)
	}
	wait("the hand edit", has(audit.KindAccessRevoked, "unattributed"))
	if rc := run(ctx, []string{"--once"}, &bytes.Buffer{}, &bytes.Buffer{}); rc != 0 {
		t.Fatalf("reconcile --once: %d", rc)
	}
	wait("the repair", has(audit.KindAccessGranted, "reconcile"))
	stop()
	if rc := <-done; rc != 0 {
		t.Fatalf("audit follow exited %d: %s", rc, stderr.String())
	}
	onDisk, err := audit.Read(dir)
	must(err)
	teed, err := audit.ReadFrom(strings.NewReader(stdout.String()))
	must(err)
	if len(teed) != len(onDisk) || len(onDisk) == 0 || teed[len(teed)-1].Key != onDisk[len(onDisk)-1].Key {
		t.Fatalf("stdout has %d records, the trail %d", len(teed), len(onDisk))
	}
	code, out, _ := func() (int, string, string) {
		var o, eo bytes.Buffer
		c := execute(ctx, []string{"audit", "why", "--dir", dir, "--identity", "aucli-reader", "--service", "aucli-rain-feed"}, &o, &eo)
		return c, o.String(), eo.String()
	}()
	if code != 0 || !strings.Contains(out, "could reach aucli-rain-feed") || !strings.Contains(out, "access.granted") || !strings.Contains(out, "aucli-rain") {
		t.Fatalf("why (exit %d):\n%s", code, out)
	}
}
