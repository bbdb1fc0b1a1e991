package follow_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_model"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/acctest/model"
	"github.com/agentmesh/agentmesh/audit"
	"github.com/agentmesh/agentmesh/audit/follow"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/reconciler"
)

// pulseNet is a slice of the Macro Pulse scenario: markets-co's
// equity-feed is open to markets-channel, which enterprise-client takes
// part in; its pulse-agent is a member, and asks an LLM gateway through
// the client desk. signals-co has internal traffic of its own.
func pulseNet(listen, model string, member, routes bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, `
resource "agentmesh_identity" "pulse" {
  name         = "au-pulse-agent"
  organization = "enterprise-client"
}
resource "agentmesh_identity" "feed" {
  name         = "au-equity-host"
  organization = "markets-co"
}
resource "agentmesh_identity" "analyst" {
  name         = "au-signal-analyst"
  organization = "signals-co"
}
resource "agentmesh_identity" "desk_host" {
  name         = "au-signal-host"
  organization = "signals-co"
}
resource "agentmesh_identity" "gw" {
  name         = "au-gw"
  organization = "enterprise-client"
  kind         = "gateway"
}
resource "agentmesh_workgroup" "markets" {
  name                        = "au-markets-channel"
  owner_organization          = "markets-co"
  participating_organizations = ["enterprise-client"]
}
resource "agentmesh_workgroup" "internal" {
  name               = "au-signals-internal"
  owner_organization = "signals-co"
}
resource "agentmesh_workgroup" "desk" {
  name               = "au-client-desk"
  owner_organization = "enterprise-client"
}
resource "agentmesh_contract" "provider" {
  name                  = "au-provider-default"
  owner_organization    = "markets-co"
  allowed_message_types = ["*"]
}
resource "agentmesh_contract" "internal" {
  name                  = "au-signals-contract"
  owner_organization    = "signals-co"
  allowed_message_types = ["*"]
}
resource "agentmesh_endpoint" "equity" {
  name       = "au-equity-feed"
  host       = agentmesh_identity.feed.id
  workgroups = [agentmesh_workgroup.markets.name]
  contract   = agentmesh_contract.provider.name
}
resource "agentmesh_endpoint" "signals" {
  name       = "au-signal-desk"
  host       = agentmesh_identity.desk_host.id
  workgroups = [agentmesh_workgroup.internal.name]
  contract   = agentmesh_contract.internal.name
}
resource "agentmesh_workgroup_membership" "analyst" {
  workgroup = agentmesh_workgroup.internal.name
  identity  = agentmesh_identity.analyst.id
}
resource "agentmesh_workgroup_membership" "pulse_desk" {
  workgroup = agentmesh_workgroup.desk.name
  identity  = agentmesh_identity.pulse.id
}
resource "agentmesh_gateway" "llm" {
  name           = "au-llm"
  identity       = agentmesh_identity.gw.id
  listen         = %q
  local_base_url = %q
}
`, listen, model)
	if routes {
		b.WriteString(`
resource "agentmesh_llm_route" "chat" {
  gateway    = agentmesh_gateway.llm.name
  name       = "chat"
  model      = "llama3"
  workgroups = [agentmesh_workgroup.desk.name]
}
`)
	}
	if member {
		b.WriteString(`
resource "agentmesh_workgroup_membership" "pulse_markets" {
  workgroup = agentmesh_workgroup.markets.name
  identity  = agentmesh_identity.pulse.id
}
`)
	}
	return b.String()
}

// running is a follower in the background.
type running struct {
	dir    string
	cancel context.CancelFunc
	done   chan error
	trail  *audit.Trail
}

func startFollower(t *testing.T, dir string) *running {
	t.Helper()
	trail, err := audit.Open(dir, audit.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{}, 1)
	logf, err := acctest.LogFile("audit-follower")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logf.Close() })
	f := &follow.Follower{Engine: acctest.Engine(t), Trail: trail, PullEvery: 500 * time.Millisecond, RunLapse: time.Second,
		Log: slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Ready: func() {
			select {
			case ready <- struct{}{}:
			default:
			}
		}}
	r := &running{dir: dir, cancel: cancel, done: make(chan error, 1), trail: trail}
	go func() { r.done <- f.Run(ctx) }()
	select {
	case <-ready:
	case err := <-r.done:
		t.Fatalf("the follower stopped before it subscribed: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the follower did not subscribe to the controller's events within 60s")
	}
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("follower: %v", err)
	}
	if err := r.trail.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls the trail until ok says it holds what is awaited.
func waitFor(dir, what string, ok func([]audit.Record) bool) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		recs, err := audit.Read(dir)
		if err == nil && ok(recs) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the trail did not show %s within 60s (read error: %w)", what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func count(recs []audit.Record, kind, identity, service string) int {
	n := 0
	for _, r := range recs {
		if r.Kind == kind && r.Identity.Matches(identity) && (service == "" || r.Service.Matches(service)) {
			n++
		}
	}
	return n
}

// echo serves a bound endpoint: every line is answered with itself.
func echo(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

// exchange dials svc as z and checks one line comes back.
func exchange(z ziti.Context, svc string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_ = z.RefreshServices()
		c, err := z.Dial(svc)
		if err == nil {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, `{"type":"pulse.request"}`+"\n"); err != nil {
				return err
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || !strings.Contains(line, "pulse.request") {
				return fmt.Errorf("%s answered %q: %w", svc, line, err)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dialing %s: %w", svc, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// chatPulse asks for llama3 as pulse-agent over its data plane.
func chatPulse(z ziti.Context, svc string) (int, error) {
	code, _, err := acctest.Chat(z, svc, "llama3", "Summarise the Macro Pulse scenario.")
	return code, err
}

// handEditThenReconcile strips the identity's derived roles by hand, waits
// for the trail to record the revocation, then runs a reconcile pass that
// puts them back and waits for the trail to record the grant.
func handEditThenReconcile(ctx context.Context, t *testing.T, id, trailDir string) error {
	api := acctest.Engine(t).Client().API
	d, err := api.Identity.DetailIdentity(identity.NewDetailIdentityParams().WithID(id), nil)
	if err != nil {
		return err
	}
	var keep rest_model.Attributes
	for _, r := range *d.Payload.Data.RoleAttributes {
		if !strings.HasPrefix(r, "wg.") {
			keep = append(keep, r)
		}
	}
	if _, err := api.Identity.PatchIdentity(identity.NewPatchIdentityParams().WithID(id).WithIdentity(&rest_model.IdentityPatch{RoleAttributes: &keep}), nil); err != nil {
		return err
	}
	if err := waitFor(trailDir, "the hand edit's revocation", func(recs []audit.Record) bool {
		return count(recs, audit.KindAccessRevoked, "au-signal-analyst", "au-signal-desk") == 1
	}); err != nil {
		return err
	}
	e := acctest.Engine(t)
	e.MarkRuns("reconcile")
	if _, err := e.Reconcile(ctx); err != nil {
		return err
	}
	return waitFor(trailDir, "the reconcile's repair", func(recs []audit.Record) bool {
		return count(recs, audit.KindAccessGranted, "au-signal-analyst", "au-signal-desk") == 2
	})
}

// TestAccAudit_macroPulse drives Macro Pulse traffic (dials between agents,
// LLM requests through the real llm-gateway), restarts the follower in the
// middle, then removes pulse-agent's membership; from the trail alone it
// recovers that pulse-agent dialled equity-feed under the workgroup and
// contract that allowed it, the apply that later revoked that access and
// when, and pulse-agent's LLM requests with their token counts; and that
// an organisation's view holds nothing of another's internal traffic.
func TestAccAudit_macroPulse(t *testing.T) {
	llm := model.Start("llama3")
	defer llm.Close()
	listen, err := acctest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := acctest.SupervisedGateway(t.TempDir(), "llm-gateway")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	trailDir := filepath.Join(dir, "trail")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	f := startFollower(t, trailDir)
	var once sync.Once
	defer once.Do(func() { f.stop(t) })

	var (
		zs                  = map[string]ziti.Context{}
		dialed, applyStart  time.Time
		applyEnd            time.Time
		pulseDP             = reconciler.DataPlaneService("au-llm", "au-pulse-agent")
		requestsBeforeRevoc int
	)
	hosts := func(s *terraform.State) error {
		for _, who := range []string{"pulse", "feed", "analyst", "desk_host", "gw"} {
			_, cfg, err := acctest.Enroll(s.RootModule().Resources["agentmesh_identity."+who].Primary.Attributes["enrollment_jwt"], dir, who)
			if err != nil {
				return err
			}
			z, err := ziti.NewContext(cfg)
			if err != nil {
				return err
			}
			t.Cleanup(z.Close)
			zs[who] = z
		}
		for who, svc := range map[string]string{"feed": "au-equity-feed", "desk_host": "au-signal-desk"} {
			ln, err := agent.Listen(ctx, zs[who], svc, 30*time.Second)
			if err != nil {
				return fmt.Errorf("%s cannot bind %s: %w", who, svc, err)
			}
			t.Cleanup(func() { _ = ln.Close() })
			go echo(ln)
		}
		_, stopAgent, err := acctest.StartLLMAgent(ctx, zs["gw"], "au-llm", bin, filepath.Join(dir, "gw-state"), listen)
		if err != nil {
			return err
		}
		t.Cleanup(stopAgent)
		return nil
	}
	traffic := func(*terraform.State) error {
		dialed = time.Now()
		for i := 0; i < 2; i++ {
			if err := exchange(zs["pulse"], "au-equity-feed"); err != nil {
				return err
			}
		}
		if err := exchange(zs["analyst"], "au-signal-desk"); err != nil {
			return err
		}
		for i := 0; i < 3; i++ {
			if code, err := chatPulse(zs["pulse"], pulseDP); err != nil || code != 200 {
				return fmt.Errorf("pulse-agent's LLM request: %d %w", code, err)
			}
		}
		requestsBeforeRevoc = len(llm.Usages())
		if err := waitFor(trailDir, "pulse-agent's dials and LLM requests", func(recs []audit.Record) bool {
			return count(recs, audit.KindCircuitCreated, "au-pulse-agent", "au-equity-feed") >= 2 &&
				count(recs, audit.KindLLMRequest, "au-pulse-agent", "") >= 3 &&
				count(recs, audit.KindCircuitCreated, "au-signal-analyst", "au-signal-desk") >= 1
		}); err != nil {
			return err
		}
		// The follower restarts: it resumes from its cursor, records the
		// gap, and writes nothing twice.
		once.Do(func() { f.stop(t) })
		if code, err := chatPulse(zs["pulse"], pulseDP); err != nil || code != 200 {
			return fmt.Errorf("pulse-agent's LLM request while the follower is down: %d %w", code, err)
		}
		f = startFollower(t, trailDir)
		once = sync.Once{}
		return waitFor(trailDir, "the request made while the follower was down", func(recs []audit.Record) bool {
			return count(recs, audit.KindLLMRequest, "au-pulse-agent", "") >= 4
		})
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			// The gateway's agent runs before routes are applied: a
			// route's apply waits for the gateway to apply it.
			{Config: pulseNet(listen, llm.URL, true, false), Check: hosts},
			{Config: pulseNet(listen, llm.URL, true, true), Check: traffic},
			{
				PreConfig: func() { applyStart = time.Now() },
				Config:    pulseNet(listen, llm.URL, false, true),
				Check: func(s *terraform.State) error {
					applyEnd = time.Now()
					if err := waitFor(trailDir, "pulse-agent's access to equity-feed revoked", func(recs []audit.Record) bool {
						return count(recs, audit.KindAccessRevoked, "au-pulse-agent", "au-equity-feed") == 1
					}); err != nil {
						return err
					}
					// A hand edit (after the apply's claim lapsed) strips
					// the analyst's workgroup role, and a reconcile repairs
					// it: the trail tells the two apart.
					time.Sleep(1500 * time.Millisecond)
					return handEditThenReconcile(ctx, t, s.RootModule().Resources["agentmesh_identity.analyst"].Primary.ID, trailDir)
				},
			},
		},
	})
	once.Do(func() { f.stop(t) })

	// From here on, only the trail.
	recs, err := audit.Read(trailDir)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(trailDir, audit.Current))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d: the trail has a hole or a repeat", i, r.Seq)
		}
		if keys[r.Key] {
			t.Fatalf("fact %s is in the trail twice", r.Key)
		}
		keys[r.Key] = true
	}

	// 1. pulse-agent dialled equity-feed, under the workgroup and contract
	//    that allowed it.
	var dial *audit.Record
	for i := range recs {
		if r := &recs[i]; r.Kind == audit.KindCircuitCreated && r.Identity.Matches("au-pulse-agent") && r.Service.Matches("au-equity-feed") {
			dial = r
			break
		}
	}
	if dial == nil || dial.Grant == nil || !slices.Equal(dial.Grant.Workgroups, []string{"au-markets-channel"}) || dial.Grant.Contract != "au-provider-default" ||
		dial.Identity.Organization != "enterprise-client" || dial.Service.Organization != "markets-co" || dial.Identity.ID == "" {
		t.Fatalf("pulse-agent's dial of equity-feed: %+v", dial)
	}
	if dial.Time.Before(dialed.Add(-time.Second)) {
		t.Fatalf("the dial is recorded at %s, before it was made (%s)", dial.Time, dialed)
	}
	why := audit.Why(recs, "au-pulse-agent", "au-equity-feed", dial.Time)
	if !why.Allowed || why.Grant == nil || why.Grant.Contract != "au-provider-default" || len(why.Dials) == 0 {
		t.Fatalf("why at the dial:\n%s", why)
	}
	t.Logf("why:\n%s", why)

	// 2. The apply that revoked it, and when.
	rev := why.Revoked
	if rev == nil {
		t.Fatalf("the trail names no revocation after the dial:\n%s", why)
	}
	if rev.Time.Before(applyStart.Add(-time.Second)) || rev.Time.After(applyEnd.Add(30*time.Second)) {
		t.Fatalf("revoked at %s, the apply ran %s..%s", rev.Time, applyStart, applyEnd)
	}
	c := rev.Change
	if c == nil || c.Via != "apply" || !strings.HasPrefix(c.Run, "agentmesh/apply/") ||
		!slices.Contains(c.Intents, "delete membership au-markets-channel/au-pulse-agent") || len(c.By) == 0 || c.By[0].Name == "" {
		t.Fatalf("the revocation's attribution: %+v", c)
	}
	if after := audit.Why(recs, "au-pulse-agent", "au-equity-feed", rev.Time.Add(time.Millisecond)); after.Allowed {
		t.Fatalf("still allowed after the revocation:\n%s", after)
	}
	// The grant was recorded with the apply that made it.
	if g := why.Since; g == nil || g.Kind != audit.KindAccessGranted || g.Change == nil || g.Change.Via != "apply" {
		t.Fatalf("the grant's record: %+v", g)
	}

	// 3. pulse-agent's LLM requests with their token counts: the ones the
	//    model answered, as it reported them.
	var llmRecs []audit.Record
	for _, r := range audit.Activity(recs, "au-pulse-agent", time.Time{}, time.Now()) {
		if r.Kind == audit.KindLLMRequest {
			llmRecs = append(llmRecs, r)
		}
	}
	usages := llm.Usages()
	if len(llmRecs) != 4 || len(usages) < 4 || requestsBeforeRevoc != 3 {
		t.Fatalf("%d LLM request records, model answered %d", len(llmRecs), len(usages))
	}
	for i, r := range llmRecs {
		u := usages[i]
		if r.Grant == nil {
			for _, r := range recs {
				t.Log(r.String())
			}
		}
		if r.LLM.Status != 200 || r.LLM.Route != "chat" || r.LLM.Model != "llama3" || r.LLM.TotalTokens != int64(u.Prompt+u.Completion) || r.LLM.TotalTokens == 0 ||
			r.Grant == nil || !slices.Equal(r.Grant.Routes, []string{"chat"}) {
			t.Fatalf("LLM request %d: %+v %+v %+v %+v, the model reported %+v", i, r.LLM, r.Grant, r.Identity, r.Service, u)
		}
	}

	// The restart left a gap record, and nothing is lost: the request
	// made while the follower was down is there (checked above).
	gaps := 0
	for _, r := range recs {
		if r.Kind == audit.KindTrailGap && r.Gap != nil && r.Gap.To.After(r.Gap.From) {
			gaps++
		}
	}
	if gaps != 1 {
		t.Fatalf("%d gaps recorded, want 1: the follower's restart", gaps)
	}

	// A hand edit and a reconcile repair are told apart from an apply.
	var hand, repair *audit.Record
	for i := range recs {
		r := &recs[i]
		if r.Identity.Matches("au-signal-analyst") && r.Service.Matches("au-signal-desk") && r.Change != nil {
			// The first revocation is the hand edit's (the destroy at the
			// end revokes again), the grant after it the repair's.
			switch {
			case r.Kind == audit.KindAccessRevoked && hand == nil:
				hand = r
			case r.Kind == audit.KindAccessGranted && hand != nil && repair == nil:
				repair = r
			}
		}
	}
	if hand == nil || hand.Change.Via != "unattributed" || len(hand.Change.By) == 0 || !slices.ContainsFunc(hand.Change.Objects, func(o string) bool { return strings.Contains(o, "au-signal-analyst roles") }) {
		t.Fatalf("the hand edit's revocation: %+v", hand)
	}
	if repair == nil || repair.Change.Via != "reconcile" || !strings.HasPrefix(repair.Change.Run, "agentmesh/reconcile/") || repair.Grant == nil || repair.Grant.Contract != "au-signals-contract" {
		t.Fatalf("the reconcile's repair: %+v", repair)
	}

	// 4. Organisations see their own.
	for _, r := range audit.Visible(recs, "enterprise-client") {
		if r.Identity.Matches("au-signal-analyst") || r.Service.Matches("au-signal-desk") {
			t.Fatalf("enterprise-client sees signals-co's internal traffic: %s", r)
		}
	}
	var signals []audit.Record
	for _, r := range audit.Visible(recs, "signals-co") {
		if r.Identity.Matches("au-pulse-agent") {
			t.Fatalf("signals-co sees pulse-agent: %s", r)
		}
		signals = append(signals, r)
	}
	if count(signals, audit.KindCircuitCreated, "au-signal-analyst", "au-signal-desk") == 0 {
		t.Fatal("signals-co does not see its own internal traffic")
	}
	if count(audit.Visible(recs, "markets-co"), audit.KindCircuitCreated, "au-pulse-agent", "au-equity-feed") == 0 {
		t.Fatal("markets-co does not see the dials of its own endpoint")
	}

	// No secret reaches the trail: session events carry their token. The
	// package's secret scan also reads the trail and the agent's journal,
	// for live API session tokens, JWTs and the admin password.
	if strings.Contains(string(raw), `"token"`) {
		t.Fatal("a session token reached the trail")
	}
	journal, err := os.ReadFile(filepath.Join(dir, "gw-state", "requests.jsonl"))
	if err != nil || !strings.Contains(string(journal), `"identity":"au-pulse-agent"`) {
		t.Fatalf("the agent's journal: %v", err)
	}
	for name, b := range map[string][]byte{"audit-trail": raw, "audit-journal": journal} {
		lf, err := acctest.LogFile(name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = lf.Write(b)
		_ = lf.Close()
	}
	for _, r := range recs {
		t.Log(r.String())
	}
}
