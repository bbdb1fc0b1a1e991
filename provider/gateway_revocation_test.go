package provider_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/reconciler"
)

// revocation is the network of TestAccGateway_revocationIsImmediate, with
// one audience identity per way of leaving the audience; each step of the
// test takes one of them away.
type revocation struct {
	port, upstream string
	dropMembership bool // rv-member's membership deleted
	dropPartnerOrg bool // partner-co no longer participates in rv-users
	disable        bool // rv-disabled disabled
	destroy        bool // rv-doomed destroyed
	deskToUsers    bool // the desk route's workgroups changed from rv-desk to rv-users
	noRoutes       bool // before the gateway agent runs
}

func (r revocation) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, `
resource "agentmesh_identity" "gw" {
  name         = "rv-gw-agent"
  organization = "ops-co"
  kind         = "gateway"
}
resource "agentmesh_workgroup" "users" {
  name                        = "rv-users"
  owner_organization          = "ops-co"
  participating_organizations = %s
}
resource "agentmesh_workgroup" "desk" {
  name               = "rv-desk"
  owner_organization = "ops-co"
}
resource "agentmesh_contract" "open" {
  name                  = "rv-open"
  owner_organization    = "ops-co"
  allowed_message_types = ["*"]
}
resource "agentmesh_endpoint" "feed" {
  name       = "rv-feed"
  host       = agentmesh_identity.gw.id
  workgroups = [agentmesh_workgroup.users.name]
  contract   = agentmesh_contract.open.name
}
resource "agentmesh_gateway" "llm" {
  name           = "rv-llm"
  identity       = agentmesh_identity.gw.id
  listen         = "127.0.0.1:%s"
  local_base_url = %q
}
`, map[bool]string{false: `["partner-co"]`, true: `[]`}[r.dropPartnerOrg], r.port, r.upstream)
	member := func(name, org, wg string, disabled bool) {
		fmt.Fprintf(&b, `
resource "agentmesh_identity" %[1]q {
  name         = "rv-%[1]s"
  organization = %[2]q
  disabled     = %[4]t
}
`, name, org, wg, disabled)
		if name == "member" && r.dropMembership {
			return
		}
		fmt.Fprintf(&b, `
resource "agentmesh_workgroup_membership" %[1]q {
  workgroup = agentmesh_workgroup.%[2]s.name
  identity  = agentmesh_identity.%[1]s.id
  role      = "member"
}
`, name, wg)
	}
	member("member", "ops-co", "users", false)
	member("partner", "partner-co", "users", false)
	member("disabled", "ops-co", "users", r.disable)
	if !r.destroy {
		member("doomed", "ops-co", "users", false)
	}
	member("desk", "ops-co", "desk", false)
	if r.noRoutes {
		return b.String()
	}
	desk := map[bool]string{false: "desk", true: "users"}[r.deskToUsers]
	fmt.Fprintf(&b, `
resource "agentmesh_llm_route" "chat" {
  gateway    = agentmesh_gateway.llm.name
  name       = "chat"
  model      = "llama3"
  workgroups = [agentmesh_workgroup.users.name]
}
resource "agentmesh_llm_route" "desk" {
  gateway    = agentmesh_gateway.llm.name
  name       = "desk"
  model      = "codellama"
  workgroups = [agentmesh_workgroup.%s.name]
}
`, desk)
	return b.String()
}

// reach is what one enrolled identity can do: list its data-plane service
// and the endpoint, and dial the data plane.
type reach struct {
	cfg *ziti.Config
	z   ziti.Context
}

func (r reach) svc(name string) string { return reconciler.DataPlaneService("rv-llm", "rv-"+name) }

// lists says which of the gateway's data plane and the endpoint a fresh
// session of the identity lists.
func (r reach) lists(name string) (dataPlane, endpoint bool, err error) {
	seen, err := acctest.ServicesAs(r.cfg)
	if err != nil {
		return false, false, err
	}
	_, dataPlane = seen[r.svc(name)]
	_, endpoint = seen["rv-feed"]
	return dataPlane, endpoint, nil
}

// TestAccGateway_revocationIsImmediate applies each way of leaving a
// gateway's audience on its own: a deleted membership, an organisation no
// longer participating, disabled = true, the identity destroyed, and a
// route's workgroups changed. After that one apply the identity can no
// longer list or dial its LLM data-plane service, nor list the endpoint it
// lost, and its key is gone from the table the running gateway serves;
// the others are untouched. A connection that was already open when
// access went is closed by the network; the test reports how fast.
func TestAccGateway_revocationIsImmediate(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"choices":[{"message":{"content":"ok"}}],"usage":{"total_tokens":1}}`)
	}))
	defer up.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	listen := l.Addr().String()
	l.Close()
	net0 := revocation{port: listen[strings.LastIndex(listen, ":")+1:], upstream: up.URL}

	bin := gatewayBin(t, "llm-gateway")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	file := filepath.Join(dir, "llm.yaml")
	who := map[string]reach{}
	names := []string{"member", "partner", "disabled", "doomed", "desk"}
	// The member's connection, opened before revocation, and when the
	// network closed it.
	var (
		closed     = make(chan time.Time, 1)
		applyStart time.Time
	)

	start := func(s *terraform.State) error {
		attrs := func(addr string) map[string]string { return s.RootModule().Resources[addr].Primary.Attributes }
		_, gwCfg, err := acctest.Enroll(attrs("agentmesh_identity.gw")["enrollment_jwt"], dir, "gw")
		if err != nil {
			return err
		}
		gz, err := ziti.NewContext(gwCfg)
		if err != nil {
			return err
		}
		for _, n := range names {
			_, cfg, err := acctest.Enroll(attrs("agentmesh_identity." + n)["enrollment_jwt"], dir, n)
			if err != nil {
				return err
			}
			z, err := ziti.NewContext(cfg)
			if err != nil {
				return err
			}
			t.Cleanup(z.Close)
			who[n] = reach{cfg: cfg, z: z}
		}
		_, stop, err := acctest.StartLLMAgent(ctx, gz, "rv-llm", bin, dir, listen)
		if err != nil {
			return err
		}
		t.Cleanup(stop)
		return nil
	}
	// served says whether the running gateway holds a key for the identity.
	served := func(name string) (bool, error) {
		b, err := os.ReadFile(file)
		if err != nil {
			return false, err
		}
		return strings.Contains(string(b), "name: rv-"+name+"\n"), nil
	}
	// has checks one identity's whole reach against what it should be.
	has := func(name string, want bool) error {
		r := who[name]
		dp, ep, err := r.lists(name)
		if err != nil && want {
			return err
		}
		// A disabled or destroyed identity cannot even authenticate: it
		// lists nothing.
		if dp != want || (name != "desk" && ep != want) {
			return fmt.Errorf("rv-%s lists its data plane %t and the endpoint %t, want %t", name, dp, ep, want)
		}
		if in, err := served(name); err != nil || in != want {
			return fmt.Errorf("rv-%s has a key in the running gateway's config: %t, want %t (%w)", name, in, want, err)
		}
		if want {
			if code, body, err := chatAs(r.z, r.svc(name), map[bool]string{true: "codellama", false: "llama3"}[name == "desk"]); err != nil || code != 200 {
				return fmt.Errorf("rv-%s over its data plane: %d %s %w", name, code, body, err)
			}
			return nil
		}
		_ = r.z.RefreshServices()
		if c, err := r.z.Dial(r.svc(name)); err == nil {
			c.Close()
			return fmt.Errorf("rv-%s still dials its data-plane service", name)
		}
		return nil
	}
	step := func(r revocation, gone string, left ...string) resource.TestStep {
		return resource.TestStep{
			Config: r.config(),
			Check: func(*terraform.State) error {
				if err := has(gone, false); err != nil {
					return err
				}
				for _, n := range left {
					if err := has(n, true); err != nil {
						return err
					}
				}
				return nil
			},
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
		}
	}
	n1 := net0
	n1.dropMembership = true
	n2 := n1
	n2.dropPartnerOrg = true
	n3 := n2
	n3.disable = true
	n4 := n3
	n4.destroy = true
	n5 := n4
	n5.deskToUsers = true

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			{
				Config: func() string { r := net0; r.noRoutes = true; return r.config() }(),
				Check:  start,
			},
			{
				Config: net0.config(),
				Check: func(s *terraform.State) error {
					for _, n := range names {
						if err := has(n, true); err != nil {
							return err
						}
					}
					return nil
				},
			},
			{
				// Drift on the data plane: the member's Dial policy deleted
				// by hand shows as converged false -> true on the gateway,
				// and the apply restores it.
				PreConfig: func() {
					_, e := admin(t)
					api := e.Client().API
					name := "agentmesh.gw.dial." + who["member"].svc("member")
					l, err := api.ServicePolicy.ListServicePolicies(service_policy.NewListServicePoliciesParams().WithFilter(ptr(`name = "`+name+`"`)), nil)
					if err != nil || len(l.Payload.Data) != 1 {
						t.Fatalf("dial policy %s: %v", name, err)
					}
					if _, err := api.ServicePolicy.DeleteServicePolicy(service_policy.NewDeleteServicePolicyParams().WithID(*l.Payload.Data[0].ID), nil); err != nil {
						t.Fatal(err)
					}
				},
				Config: net0.config(),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction("agentmesh_gateway.llm", plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					if err := has("member", true); err != nil {
						return err
					}
					c, err := openExchange(who["member"].z, who["member"].svc("member"))
					if err != nil {
						return err
					}
					go watchClose(c, closed)
					return nil
				},
			},
			func() resource.TestStep {
				s := step(n1, "member", "partner", "disabled", "doomed", "desk")
				s.PreConfig = func() { applyStart = time.Now() }
				check := s.Check
				s.Check = func(st *terraform.State) error {
					applied := time.Now()
					// The connection opened before the apply: the
					// controller deletes the member's sessions for the
					// service it lost, and the router closes it.
					select {
					case at := <-closed:
						if at.After(applied) {
							t.Logf("revocation: an open data-plane connection was closed %s after the apply returned", at.Sub(applied))
						} else {
							t.Logf("revocation: an open data-plane connection was closed during the apply, %s after it began (the whole apply took %s)", at.Sub(applyStart), applied.Sub(applyStart))
						}
					case <-time.After(30 * time.Second):
						return errors.New("a connection open before revocation was still open 30s after the apply")
					}
					return check(st)
				}
				return s
			}(),
			step(n2, "partner", "disabled", "doomed", "desk"),
			step(n3, "disabled", "doomed", "desk"),
			step(n4, "doomed", "desk"),
			step(n5, "desk"),
		},
	})
}

// openExchange opens a connection to the service, makes one request on it
// and leaves it open (HTTP keep-alive).
func openExchange(z ziti.Context, svc string) (net.Conn, error) {
	_ = z.RefreshServices()
	c, err := z.Dial(svc)
	if err != nil {
		return nil, err
	}
	req := "POST /v1/chat/completions HTTP/1.1\r\nHost: llm\r\nContent-Type: application/json\r\nContent-Length: 62\r\n\r\n{\"model\":\"llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
	if _, err := io.WriteString(c, req); err != nil {
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
		return nil, fmt.Errorf("request on the open connection: %q %w", buf[:n], err)
	}
	return c, nil
}

// watchClose reads c until the peer closes it and sends the time.
func watchClose(c net.Conn, closed chan<- time.Time) {
	_ = c.SetReadDeadline(time.Time{})
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			closed <- time.Now()
			return
		}
	}
}
