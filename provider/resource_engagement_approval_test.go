package provider_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/reconciler"
)

// approvalConfig is one endpoint under contract ap-gate (access_mode
// mode) hosted by owner-co, with three members of its workgroup (approved,
// unapproved, expiring) and one outsider. With approvals, approved and the
// outsider are approved for good and expiring until expires, an HCL
// expression.
func approvalConfig(mode string, approvals bool, expires string) string {
	var b strings.Builder
	b.WriteString(acctest.Config(""))
	fmt.Fprintf(&b, `
resource "agentmesh_identity" "host" {
  name         = "ap-host"
  organization = "owner-co"
}
resource "agentmesh_workgroup" "desk" {
  name               = "ap-desk"
  owner_organization = "owner-co"
}
resource "agentmesh_workgroup_membership" "host" {
  workgroup = agentmesh_workgroup.desk.name
  identity  = agentmesh_identity.host.id
  role      = "admin"
}
resource "agentmesh_contract" "gate" {
  name               = "ap-gate"
  owner_organization = "owner-co"
  access_mode        = %q
  allowed_message_types = ["*"]
}
resource "agentmesh_endpoint" "feed" {
  name       = "ap-feed"
  host       = agentmesh_identity.host.id
  workgroups = [agentmesh_workgroup.desk.name]
  contract   = agentmesh_contract.gate.name
}
`, mode)
	for _, who := range []string{"approved", "unapproved", "expiring", "outsider"} {
		fmt.Fprintf(&b, `
resource "agentmesh_identity" "%[1]s" {
  name         = "ap-%[1]s"
  organization = "owner-co"
}
`, who)
		if who != "outsider" {
			fmt.Fprintf(&b, `
resource "agentmesh_workgroup_membership" "%[1]s" {
  workgroup = agentmesh_workgroup.desk.name
  identity  = agentmesh_identity.%[1]s.id
}
`, who)
		}
	}
	if approvals {
		for _, who := range []string{"approved", "outsider", "expiring"} {
			expiry := ""
			if who == "expiring" {
				expiry = "expires_at = " + expires
			}
			fmt.Fprintf(&b, `
resource "agentmesh_engagement_approval" "%[1]s" {
  endpoint     = agentmesh_endpoint.feed.id
  consumer     = agentmesh_identity.%[1]s.id
  organization = "owner-co"
  %[2]s
}
`, who, expiry)
		}
	}
	return b.String()
}

// atTime is a config variable read when its step runs, so a deadline can
// be set from the moment that step begins, not from the test's start.
type atTime struct{ t *time.Time }

func (a atTime) MarshalJSON() ([]byte, error) { return json.Marshal(a.t.Format(time.RFC3339)) }

// approvalWire holds the enrolled parties: the host binds ap-feed and
// answers "ok" on every connection; the others list and dial it.
type approvalWire struct {
	t    *testing.T
	dir  string
	mu   sync.Mutex
	cfgs map[string]*ziti.Config
	zs   map[string]ziti.Context
}

func (w *approvalWire) enroll(s *terraform.State) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, who := range []string{"host", "approved", "unapproved", "expiring", "outsider"} {
		if _, ok := w.cfgs[who]; ok {
			continue
		}
		_, cfg, err := acctest.Enroll(s.RootModule().Resources["agentmesh_identity."+who].Primary.Attributes["enrollment_jwt"], w.dir, who)
		if err != nil {
			return err
		}
		z, err := ziti.NewContext(cfg)
		if err != nil {
			return err
		}
		w.cfgs[who], w.zs[who] = cfg, z
		w.t.Cleanup(z.Close)
		if who == "host" {
			ln, err := agent.Listen(context.Background(), z, "ap-feed", 30*time.Second)
			if err != nil {
				return fmt.Errorf("the host cannot bind ap-feed: %w", err)
			}
			w.t.Cleanup(func() { _ = ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					_, _ = io.WriteString(c, "ok\n")
					_ = c.Close()
				}
			}()
		}
	}
	return nil
}

// reaches says whether who lists ap-feed (a fresh session) and gets the
// host's answer through it.
func (w *approvalWire) reaches(who string) (lists, dials bool, err error) {
	seen, err := acctest.ServicesAs(w.cfgs[who])
	if err != nil {
		return false, false, err
	}
	_, lists = seen["ap-feed"]
	z := w.zs[who]
	_ = z.RefreshServices()
	c, err := z.Dial("ap-feed")
	if err != nil {
		return lists, false, nil
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return lists, line == "ok\n", nil
}

// expect checks, on the wire, who lists and dials ap-feed.
func (w *approvalWire) expect(want map[string]bool) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		if err := w.enroll(s); err != nil {
			return err
		}
		for who, reach := range want {
			// A grant, or the host's bind, reaches the router a moment
			// after the controller has it; a refusal is checked once.
			deadline := time.Now().Add(30 * time.Second)
			lists, dials, err := w.reaches(who)
			for err == nil && reach && (!lists || !dials) && time.Now().Before(deadline) {
				time.Sleep(300 * time.Millisecond)
				lists, dials, err = w.reaches(who)
			}
			if err != nil {
				return err
			}
			if lists != reach || dials != reach {
				return fmt.Errorf("ap-%s lists ap-feed: %v, dials it: %v; want %v", who, lists, dials, reach)
			}
		}
		return nil
	}
}

// watchUntilRevoked runs the real `agentmesh reconcile --watch` and
// returns how long after expiry ap-expiring lost ap-feed.
func (w *approvalWire) watchUntilRevoked(expiry time.Time, interval time.Duration) (time.Duration, error) {
	root, err := acctest.RepoRoot()
	if err != nil {
		return 0, err
	}
	ca := filepath.Join(w.dir, "ca.pem")
	if err := os.WriteFile(ca, acctest.Shared.CAPEM, 0o600); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "agentmesh"), "reconcile", "--watch", "--interval", interval.String())
	cmd.Env = append(os.Environ(), "AGENTMESH_ENDPOINT="+acctest.Shared.Origin, "AGENTMESH_USERNAME="+acctest.Shared.Username,
		"AGENTMESH_PASSWORD="+acctest.Shared.Password, "AGENTMESH_CA_FILE="+ca, "AGENTMESH_CA_PEM=")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("bin/agentmesh (make build): %w", err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	deadline := expiry.Add(interval + 30*time.Second)
	early := 0 // failed dials in a row before the lapse; one can be the load's
	for time.Now().Before(deadline) {
		if _, dials, err := w.reaches("expiring"); err != nil {
			return 0, err
		} else if !dials {
			if d := time.Since(expiry); d >= 0 {
				return d, nil
			}
			if early++; early > 1 {
				return 0, fmt.Errorf("ap-expiring lost ap-feed %s before its approval lapsed", -time.Since(expiry))
			}
		} else {
			early = 0
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, fmt.Errorf("ap-expiring still dials ap-feed %s after its approval lapsed; reconcile said:\n%s", time.Since(expiry), out.String())
}

// TestAccApproval_onTheWire switches a contract from open to
// approval_required and back, each in one apply, and checks with enrolled
// identities who can list and dial the endpoint: approved, unapproved,
// approved but not a member, and approved until an expiry that lapses
// during the test. A lapsed approval shows as drift in the plan, a later
// expiry renews it, and the real `agentmesh reconcile --watch` revokes it
// within one interval of its next lapse.
func TestAccApproval_onTheWire(t *testing.T) {
	w := &approvalWire{t: t, dir: t.TempDir(), cfgs: map[string]*ziti.Config{}, zs: map[string]ziti.Context{}}
	// The first expiry lapses during the test, and is renewed to lapse
	// again while reconcile --watch runs. Each is set when the step that
	// writes it begins, with room for that step under load.
	var expiry, renewal time.Time
	expires := func(at *time.Time) config.Variables { return config.Variables{"expires": atTime{at}} }
	withExpiry := func(mode string) string {
		return approvalConfig(mode, true, "var.expires") + `
variable "expires" {
  type = string
}
`
	}
	gated := withExpiry("approval_required")
	const interval = 2 * time.Second
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: approvalConfig("open", false, ""),
				Check: w.expect(map[string]bool{
					"approved": true, "unapproved": true, "expiring": true, "outsider": false,
				}),
			},
			{
				PreConfig:       func() { expiry = time.Now().Add(60 * time.Second).UTC().Truncate(time.Second) },
				Config:          gated,
				ConfigVariables: expires(&expiry),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("agentmesh_engagement_approval.expiring", tfjsonpath.New("active"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("agentmesh_engagement_approval.approved", tfjsonpath.New("converged"), knownvalue.Bool(true)),
				},
				Check: w.expect(map[string]bool{
					"approved": true, "unapproved": false, "expiring": true, "outsider": false,
				}),
			},
			{
				Config:            gated,
				ConfigVariables:   expires(&expiry),
				ResourceName:      "agentmesh_engagement_approval.approved",
				ImportState:       true,
				ImportStateId:     "ap-feed/ap-approved",
				ImportStateVerify: true,
			},
			{
				// Lapsed, with nothing reconciling: still granted on the
				// network, and the plan says so.
				PreConfig:       func() { time.Sleep(time.Until(expiry.Add(time.Second))) },
				Config:          gated,
				ConfigVariables: expires(&expiry),
				PlanOnly:        true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("agentmesh_engagement_approval.expiring", plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue("agentmesh_engagement_approval.expiring", tfjsonpath.New("converged"), knownvalue.Bool(true)),
						plancheck.ExpectKnownValue("agentmesh_engagement_approval.expiring", tfjsonpath.New("active"), knownvalue.Bool(false)),
					},
				},
				ExpectNonEmptyPlan: true,
			},
			{
				// A later expiry renews it.
				PreConfig:       func() { renewal = time.Now().Add(45 * time.Second).UTC().Truncate(time.Second) },
				Config:          gated,
				ConfigVariables: expires(&renewal),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("agentmesh_engagement_approval.expiring", tfjsonpath.New("active"), knownvalue.Bool(true)),
				},
				Check: w.expect(map[string]bool{"expiring": true, "unapproved": false}),
			},
			{
				// reconcile --watch runs across the second lapse.
				PreConfig: func() {
					delay, err := w.watchUntilRevoked(renewal, interval)
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("enforcement delay: ap-expiring lost ap-feed %s after its approval lapsed (reconcile --watch --interval %s)", delay.Round(10*time.Millisecond), interval)
				},
				Config:          gated,
				ConfigVariables: expires(&renewal),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("agentmesh_engagement_approval.expiring", tfjsonpath.New("active"), knownvalue.Bool(false)),
				},
				Check: w.expect(map[string]bool{
					"approved": true, "unapproved": false, "expiring": false, "outsider": false,
				}),
			},
			{
				Config:          withExpiry("open"),
				ConfigVariables: expires(&renewal),
				Check: w.expect(map[string]bool{
					"approved": true, "unapproved": true, "expiring": true, "outsider": false,
				}),
			},
		},
	})
}

// TestAccApproval_badInput refuses at plan time an approval from an
// organisation that does not own the endpoint, an expiry in the past and
// a malformed one, with nothing created.
func TestAccApproval_badInput(t *testing.T) {
	base := approvalConfig("approval_required", false, "")
	approval := func(org, expiry string) string {
		return base + fmt.Sprintf(`
resource "agentmesh_engagement_approval" "bad" {
  endpoint     = agentmesh_endpoint.feed.id
  consumer     = agentmesh_identity.approved.id
  organization = %q
  expires_at   = %q
}
`, org, expiry)
	}
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: base},
			{
				Config:      approval("other-co", later),
				ExpectError: errorText(`endpoint "ap-feed" is owned by organisation "owner-co".*not "other-co".*only the\s+owner approves`),
			},
			{
				Config:      approval("owner-co", "2020-01-01T00:00:00Z"),
				ExpectError: errorText(`Approval expiry in the past.*2020-01-01T00:00:00Z is not in the future`),
			},
			{
				Config:      approval("owner-co", "tomorrow"),
				ExpectError: errorText(`"tomorrow" is not an RFC 3339 time`),
			},
			{
				Config: base,
				Check: func(*terraform.State) error {
					_, e := admin(t)
					if id, err := e.ResolveImport(context.Background(), reconciler.ImportApproval, "ap-feed/ap-approved"); err == nil {
						return fmt.Errorf("approval %s exists after refused plans", id)
					}
					return nil
				},
			},
		},
	})
}
