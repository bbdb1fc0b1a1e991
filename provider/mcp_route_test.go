package provider_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/acctest/standin/mcpgateway"
	"github.com/agentmesh/agentmesh/gateways/agent"
)

func mcpConfig(extra string) string { return mcpConfigWith("10s", extra) }

func mcpConfigWith(heartbeat, extra string) string {
	return fmt.Sprintf(`
variable "share_token" {
  type      = string
  sensitive = true
  ephemeral = true
}
resource "agentmesh_identity" "gw" {
  name = "acc-mcp-agent"
  kind = "gateway"
}
resource "agentmesh_identity" "member" {
  name         = "acc-mcp-member"
  organization = "ops-co"
}
resource "agentmesh_workgroup" "users" {
  name               = "acc-mcp-users"
  owner_organization = "ops-co"
}
resource "agentmesh_gateway" "mcp" {
  name                   = "acc-mcp"
  kind                   = "mcp"
  identity               = agentmesh_identity.gw.id
  mcp_share_token_wo     = var.share_token
  mcp_separator          = "__"
  mcp_heartbeat_interval = %q
}
`, heartbeat) + extra
}

// githubRoute takes its token from TF_VAR_gh_token, so the configuration
// the harness logs never holds it.
func githubRoute(version int) string {
	return fmt.Sprintf(`
variable "gh_token" {
  type      = string
  sensitive = true
  ephemeral = true
}
resource "agentmesh_mcp_route" "github" {
  gateway            = agentmesh_gateway.mcp.name
  namespace          = "github"
  type               = "stdio"
  command            = "github-mcp"
  env                = { LOG_LEVEL = "info" }
  secret_env_wo      = { GITHUB_TOKEN = var.gh_token }
  secrets_wo_version = %d
  tools              = ["search_*"]
  workgroups         = [agentmesh_workgroup.users.name]
}`, version)
}

// zrokRoute is a zrok backend whose share token comes from
// TF_VAR_backend_share.
const zrokRoute = `
variable "backend_share" {
  type      = string
  sensitive = true
  ephemeral = true
}
resource "agentmesh_mcp_route" "remote" {
  gateway        = agentmesh_gateway.mcp.name
  namespace      = "remote"
  type           = "zrok"
  share_token_wo = var.backend_share
  tools          = ["lookup"]
  workgroups     = [agentmesh_workgroup.users.name]
}`

// TestAccMCPRoute: MCP routes reach the running mcp-gateway (the strict
// stand-in, restarted with SIGINT by the agent); what the target cannot
// enforce is refused with the reason and nothing is written.
func TestAccMCPRoute(t *testing.T) {
	bin := gatewayBin(t, "mcp-gateway")
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	health := l.Addr().String()
	l.Close()
	t.Setenv("MCP_STANDIN_HEALTH", health)
	token1 := acctest.Secret("github token 1", "ghp_test"+strings.Repeat("1", 36))
	token2 := acctest.Secret("github token 2", "ghp_test"+strings.Repeat("2", 36))
	t.Setenv("TF_VAR_gh_token", token1)
	share := acctest.Secret("mcp share token", "accmcpshare"+strings.Repeat("7", 8))
	t.Setenv("TF_VAR_share_token", share)
	backendShare := acctest.Secret("zrok backend share token", "accbackend"+strings.Repeat("9", 8))
	t.Setenv("TF_VAR_backend_share", backendShare)
	dir := t.TempDir()
	ag := &packagedAgent{cfg: agent.Config{Kind: "mcp", ControlService: "agentmesh.ctl.acc-mcp", StateDir: filepath.Join(dir, "state"),
		Command: []string{bin, "run", "{config}"}, Health: health}}
	defer ag.halt()
	file := filepath.Join(ag.cfg.StateDir, "mcp-gateway.yaml")
	startAgent := ag.enrollAndStart(t, dir)
	runsToken := func(want string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			c, err := mcpgateway.Load(file)
			if err != nil {
				return fmt.Errorf("the running config fails the strict schema: %w", err)
			}
			if len(c.Backends) != 1 || c.Backends[0].ID != "github" || c.Backends[0].Tools.List[0] != "search_*" {
				return fmt.Errorf("running config: %+v", c.Backends)
			}
			if c.ShareToken != share || c.Aggregator.Separator != "__" {
				return fmt.Errorf("aggregator settings not applied: separator %q", c.Aggregator.Separator)
			}
			env := c.Backends[0].Transport.Env
			if env["LOG_LEVEL"] != "info" || env["GITHUB_TOKEN"] != want {
				return fmt.Errorf("the backend does not run with the applied token (env keys %d)", len(env))
			}
			if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
				return fmt.Errorf("config file: %v %w", st, err)
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			// The agent starts after this apply: the share token is not
			// delivered yet, so the plan still shows its delivery.
			{Config: mcpConfig(""), Check: startAgent, ExpectNonEmptyPlan: true},
			{
				Config: mcpConfig(githubRoute(1)),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("agentmesh_gateway.mcp", "mcp_share_token_set", "true"),
					resource.TestCheckNoResourceAttr("agentmesh_gateway.mcp", "mcp_share_token_wo"),
					resource.TestCheckResourceAttr("agentmesh_gateway.mcp", "api_keys_applied_version", "0"),
					resource.TestMatchResourceAttr("agentmesh_mcp_route.github", "config_sha256", regexpHex64),
					resource.TestCheckResourceAttr("agentmesh_mcp_route.github", "secret_env_names.0", "GITHUB_TOKEN"),
					resource.TestCheckNoResourceAttr("agentmesh_mcp_route.github", "secret_env_wo"),
					runsToken(token1),
				),
			},
			{ResourceName: "agentmesh_mcp_route.github", ImportState: true, ImportStateId: "acc-mcp/github", ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"applied_generation", "config_sha256"}},
			{
				// A raised version replaces the route and sends the new value.
				PreConfig: func() { t.Setenv("TF_VAR_gh_token", token2) },
				Config:    mcpConfig(githubRoute(2)),
				Check:     runsToken(token2),
			},
			{
				// Aggregator settings change in place and reach the running gateway.
				Config: mcpConfigWith("30s", githubRoute(2)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("agentmesh_gateway.mcp", plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					c, err := mcpgateway.Load(file)
					if err != nil || c.Orchestrator == nil || c.Orchestrator.HeartbeatInterval != "30s" {
						return fmt.Errorf("heartbeat not applied: %+v %w", c, err)
					}
					return nil
				},
			},
			// Whether the agent holds the share token is not observable
			// from the controller, so an import does not claim it.
			{ResourceName: "agentmesh_gateway.mcp", ImportState: true, ImportStateId: "acc-mcp", ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"api_keys_applied_version"}},
			{
				Config:      mcpConfigWith("0s", githubRoute(2)),
				PlanOnly:    true,
				ExpectError: acctest.ErrorText(`heartbeat interval "0s" must be a positive duration`),
			},
			{
				// A zrok backend gets its share token write-only.
				Config: mcpConfigWith("30s", githubRoute(2)+zrokRoute),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("agentmesh_mcp_route.remote", "share_token_set", "true"),
					resource.TestCheckNoResourceAttr("agentmesh_mcp_route.remote", "share_token_wo"),
					func(*terraform.State) error {
						c, err := mcpgateway.Load(file)
						if err != nil || len(c.Backends) != 2 || c.Backends[1].ID != "remote" || c.Backends[1].Transport.ShareToken != backendShare {
							return fmt.Errorf("the zrok backend does not run with its share token: %w", err)
						}
						return nil
					},
				),
			},
			{ResourceName: "agentmesh_mcp_route.remote", ImportState: true, ImportStateId: "acc-mcp/remote", ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"applied_generation", "config_sha256"}},
			{
				Config:      mcpConfigWith("30s", githubRoute(2)+strings.Replace(zrokRoute, "share_token_wo = var.backend_share\n", "", 1)),
				PlanOnly:    true,
				ExpectError: acctest.ErrorText(`a zrok transport needs the backend's share token`),
			},
			{
				// An http:// backend without allow_insecure: the real
				// gateway refuses it, so the plan does.
				Config: mcpConfigWith("30s", githubRoute(2)+zrokRoute+`
resource "agentmesh_mcp_route" "wiki" {
  gateway    = agentmesh_gateway.mcp.name
  namespace  = "wiki"
  type       = "http"
  endpoint   = "http://127.0.0.1:9/sse"
  protocol   = "sse"
  tools      = ["read_*"]
  workgroups = [agentmesh_workgroup.users.name]
}`),
				PlanOnly:    true,
				ExpectError: acctest.ErrorText(`mcp-gateway refuses it unless allow_insecure is true`),
			},
			{
				// A value given both plainly and as a secret is refused at plan.
				Config:      strings.Replace(mcpConfigWith("30s", githubRoute(2)), `LOG_LEVEL = "info"`, `GITHUB_TOKEN = "plain"`, 1),
				PlanOnly:    true,
				ExpectError: acctest.ErrorText(`variable "GITHUB_TOKEN" is also set in env; give it in one place`),
			},
			{
				Config: mcpConfigWith("30s", githubRoute(2)+`
resource "agentmesh_mcp_route" "all" {
  gateway    = agentmesh_gateway.mcp.name
  namespace  = "all"
  type       = "stdio"
  command    = "x"
  tools_mode = "deny"
  tools      = ["*"]
  workgroups = [agentmesh_workgroup.users.name]
}`),
				PlanOnly:    true,
				ExpectError: acctest.ErrorText(`mcp-gateway cannot deny every tool; leave the backend out instead`),
			},
			{
				// None of the refused routes reached the gateway.
				Config: mcpConfigWith("30s", githubRoute(2)+zrokRoute),
				Check: func(*terraform.State) error {
					b, err := os.ReadFile(file)
					if err != nil || strings.Contains(string(b), "id: all") || strings.Contains(string(b), "wiki") {
						return fmt.Errorf("a refused route reached the gateway: %w\n%s", err, b)
					}
					return nil
				},
			},
		},
	})
	// Destroying the last route stopped the gateway: mcp-gateway cannot
	// run without a backend, and what it served must end.
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("the gateway's config outlived its last route: %v", err)
	}
	if err := agent.HTTPHealth(health)(context.Background()); err == nil {
		t.Fatal("the gateway still runs after its last route was destroyed")
	}
}
