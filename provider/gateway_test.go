package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/gateways/control"
	"github.com/agentmesh/agentmesh/gateways/llmfront"
	"github.com/agentmesh/agentmesh/reconciler"
)

func gatewayConfig(port, upstream string, withRoute bool) string {
	route := ""
	if withRoute {
		route = `
resource "agentmesh_llm_route" "chat" {
  gateway       = agentmesh_gateway.llm.name
  name          = "chat"
  model         = "llama3"
  workgroups    = [agentmesh_workgroup.users.name]
  budget_tokens = 100
  depends_on    = [agentmesh_workgroup_membership.member]
}
resource "agentmesh_llm_route" "coding" {
  gateway    = agentmesh_gateway.llm.name
  name       = "coding"
  model      = "codellama"
  workgroups = [agentmesh_workgroup.users.name]
  heuristics = [{ keywords = ["code", "stack trace"], exclude = ["poem"] }]
  depends_on = [agentmesh_workgroup_membership.member]
}`
	}
	return fmt.Sprintf(`
resource "agentmesh_identity" "gw" {
  name         = "acc-gw-agent"
  organization = "ops-co"
  kind         = "gateway"
}
resource "agentmesh_identity" "member" {
  name         = "acc-gw-member"
  organization = "ops-co"
}
resource "agentmesh_workgroup" "users" {
  name               = "acc-gw-users"
  owner_organization = "ops-co"
}
resource "agentmesh_workgroup_membership" "member" {
  workgroup = agentmesh_workgroup.users.name
  identity  = agentmesh_identity.member.id
  role      = "admin"
}
resource "agentmesh_gateway" "llm" {
  name           = "acc-llm"
  identity       = agentmesh_identity.gw.id
  listen            = "127.0.0.1:%s"
  local_base_url    = %q
  intercept_address = "llm.acc.ziti"
  semantic_provider = "local"
  semantic_model    = "nomic-embed-text"
  default_route     = "chat"
}
%s`, port, upstream, route)
}

// TestAccGateway_routeReachesTheRunningGateway: a route applies only once
// the gateway agent (running here with the gateway identity Terraform
// created) reports it applied; then the workgroup's member gets an answer
// over its own dark data-plane service, without holding any key.
func TestAccGateway_routeReachesTheRunningGateway(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Model string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"choices":[{"message":{"content":"routed:%s"}}],"usage":{"total_tokens":5}}`, req.Model)
	}))
	defer up.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	listen := l.Addr().String()
	l.Close()
	port := listen[strings.LastIndex(listen, ":")+1:]

	bin := gatewayBin(t, "llm-gateway")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	var (
		memberConfig *ziti.Config
		memberZiti   ziti.Context
		restartAgent func()
	)
	startAgent := func(s *terraform.State) error {
		attrs := func(addr string) map[string]string { return s.RootModule().Resources[addr].Primary.Attributes }
		_, gwCfg, err := acctest.Enroll(attrs("agentmesh_identity.gw")["enrollment_jwt"], dir, "gw")
		if err != nil {
			return err
		}
		_, memberCfg, err := acctest.Enroll(attrs("agentmesh_identity.member")["enrollment_jwt"], dir, "member")
		if err != nil {
			return err
		}
		gz, err := ziti.NewContext(gwCfg)
		if err != nil {
			return err
		}
		memberConfig = memberCfg
		if memberZiti, err = ziti.NewContext(memberCfg); err != nil {
			return err
		}
		file := filepath.Join(dir, "llm.yaml")
		gwURL, _ := url.Parse("http://" + listen)
		var a *agent.Agent
		newAgent := func() *agent.Agent {
			return &agent.Agent{Ziti: gz, StateDir: dir, Front: llmfront.New(gwURL, nil),
				Supervisor: &agent.Supervisor{Command: []string{bin, "run", file}, ConfigFile: file, StopSignal: agent.StopSignalFor(gateways.KindLLM),
					Health: agent.HTTPHealth(listen)}}
		}
		a = newAgent()
		t.Cleanup(func() { a.Stop() })
		restartAgent = func() { a.Stop(); a = newAgent() }
		svc := attrs("agentmesh_gateway.llm")["control_service"]
		ln, err := agent.Listen(ctx, gz, svc, 30*time.Second)
		if err != nil {
			return fmt.Errorf("the agent cannot bind %s: %w", svc, err)
		}
		go func() {
			_ = control.Serve(ctx, ln, func(c context.Context, t *gateways.Table) gateways.Report { return a.Apply(c, t) },
				func() gateways.Report { return a.Status() })
		}()
		return nil
	}
	memberAsks := func(model string) (int, string, error) {
		return chatAs(memberZiti, reconciler.DataPlaneService("acc-llm", "acc-gw-member"), model)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			{
				Config: gatewayConfig(port, up.URL, false),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("agentmesh_gateway.llm", "control_service", "agentmesh.ctl.acc-llm"),
					resource.TestCheckResourceAttr("agentmesh_gateway.llm", "data_plane_service_prefix", "agentmesh.llm.acc-llm."),
					startAgent,
				),
			},
			{
				Config: gatewayConfig(port, up.URL, true),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttrSet("agentmesh_llm_route.chat", "applied_generation"),
					resource.TestMatchResourceAttr("agentmesh_llm_route.chat", "config_sha256", regexpHex64),
					func(*terraform.State) error {
						code, body, err := memberAsks("llama3")
						if err != nil || code != 200 || !strings.Contains(body, "routed") {
							return fmt.Errorf("member over its data-plane service: %d %s %w", code, body, err)
						}
						if code, body, _ := memberAsks("gpt-4o"); code != 403 {
							return fmt.Errorf("model outside the member's routes: %d %s", code, body)
						}
						// auto: the coding route's heuristic, unless excluded;
						// then the default route.
						svc := reconciler.DataPlaneService("acc-llm", "acc-gw-member")
						if code, body, err := chatSaying(memberZiti, svc, "auto", "Why does this Code panic?"); err != nil || !strings.Contains(body, "routed:codellama") {
							return fmt.Errorf("auto with a keyword: %d %s %w", code, body, err)
						}
						if code, body, err := chatSaying(memberZiti, svc, "auto", "a poem about code"); err != nil || !strings.Contains(body, "routed:llama3") {
							return fmt.Errorf("auto with an excluded word goes to the default route: %d %s %w", code, body, err)
						}
						// A tunneller would intercept the gateway's address
						// for the member's own service.
						seen, err := acctest.ServicesAs(memberConfig)
						if err != nil {
							return err
						}
						icpt := seen[reconciler.DataPlaneService("acc-llm", "acc-gw-member")]["intercept.v1"]
						if fmt.Sprint(icpt["addresses"]) != "[llm.acc.ziti]" || fmt.Sprint(icpt["portRanges"]) != "[map[high:80 low:80]]" {
							return fmt.Errorf("the member's data-plane service carries intercept %v", icpt)
						}
						return nil
					},
				),
			},
			{
				// The agent restarts with nothing applied; one reconcile pass
				// finds the gateway differs from its routes and re-pushes.
				PreConfig: func() {
					restartAgent()
					_, e := admin(t)
					pushed, err := e.RepushGateways(context.Background())
					if err != nil || fmt.Sprint(pushed) != "[acc-llm]" {
						t.Fatalf("re-push after the agent restarted: %v %v", pushed, err)
					}
					if again, err := e.RepushGateways(context.Background()); err != nil || len(again) != 0 {
						t.Fatalf("a gateway in line with its routes was pushed again: %v %v", again, err)
					}
				},
				Config: gatewayConfig(port, up.URL, true),
				Check: func(*terraform.State) error {
					if code, body, err := memberAsks("llama3"); err != nil || code != 200 {
						return fmt.Errorf("member after the agent restarted: %d %s %w", code, body, err)
					}
					return nil
				},
			},
			{
				// The agent reports per-identity usage (the member's request
				// after the restart: 5 tokens).
				Config: gatewayConfig(port, up.URL, true) + `
data "agentmesh_gateway_usage" "llm" {
  gateway    = agentmesh_gateway.llm.name
  depends_on = [agentmesh_llm_route.chat]
}`,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("data.agentmesh_gateway_usage.llm", "usage.#", "1"),
					resource.TestCheckResourceAttr("data.agentmesh_gateway_usage.llm", "usage.0.identity", "acc-gw-member"),
					resource.TestCheckResourceAttr("data.agentmesh_gateway_usage.llm", "usage.0.tokens", "5"),
					resource.TestCheckResourceAttr("data.agentmesh_gateway_usage.llm", "usage.0.requests", "1"),
					resource.TestMatchResourceAttr("data.agentmesh_gateway_usage.llm", "config_sha256", regexpHex64),
				),
			},
			{
				// Refused at plan time: this gateway has no OpenAI provider.
				Config:      strings.Replace(gatewayConfig(port, up.URL, true), `model         = "llama3"`, `model         = "gpt-4o"`, 1),
				PlanOnly:    true,
				ExpectError: acctest.ErrorText(`Model not servable by gateway acc-llm.*sends model "gpt-4o" to provider open_ai, which gateway "acc-llm" does not configure`),
			},
			{ResourceName: "agentmesh_llm_route.chat", ImportState: true, ImportStateId: "acc-llm/chat", ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"applied_generation", "config_sha256"}},
			{ResourceName: "agentmesh_gateway.llm", ImportState: true, ImportStateId: "acc-llm", ImportStateVerify: true},
		},
	})
}

var regexpHex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// TestAccGateway_downGatewayFailsBounded: with no agent running, a route
// apply fails after gateway_timeout_seconds with a message that says what
// happened and what comes next; the route itself is recorded.
func TestAccGateway_downGatewayFailsBounded(t *testing.T) {
	start := time.Now()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{{
			Config: `
provider "agentmesh" { gateway_timeout_seconds = 2 }
resource "agentmesh_identity" "gw" {
  name = "acc-down-agent"
  kind = "gateway"
}
resource "agentmesh_gateway" "llm" {
  name           = "acc-down"
  identity       = agentmesh_identity.gw.id
  listen         = "127.0.0.1:18999"
  local_base_url = "http://127.0.0.1:9"
}
resource "agentmesh_llm_route" "chat" {
  gateway = agentmesh_gateway.llm.name
  name    = "chat"
  model   = "llama3"
}`,
			ExpectError: acctest.ErrorText(`Route chat is not applied on gateway acc-down.*gateway agent not answering: gateway "acc-down" did not answer.*within 2s.*the routes are recorded and the next apply or reconcile delivers them`),
		}},
	})
	// The bound is the push's own 2 s, which the error names; the whole
	// run's time is logged, not asserted, since load sets it.
	t.Logf("apply, refresh and destroy against a down gateway took %s", time.Since(start).Round(time.Second))
}
