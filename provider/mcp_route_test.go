package provider_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/acctest/standin/mcpgateway"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/gateways/control"
)

func mcpConfig(extra string) string {
	return `
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
  name     = "acc-mcp"
  kind     = "mcp"
  identity = agentmesh_identity.gw.id
}
` + extra
}

const githubRoute = `
resource "agentmesh_mcp_route" "github" {
  gateway    = agentmesh_gateway.mcp.name
  namespace  = "github"
  type       = "stdio"
  command    = "github-mcp"
  tools      = ["search_*"]
  workgroups = [agentmesh_workgroup.users.name]
}`

// TestAccMCPRoute: MCP routes reach the running mcp-gateway (the strict
// stand-in, restarted with SIGINT by the agent); what the target cannot
// enforce is refused with the reason and nothing is written.
func TestAccMCPRoute(t *testing.T) {
	root, _ := acctest.RepoRoot()
	bin := filepath.Join(t.TempDir(), "mcp-gateway")
	build := exec.Command("go", "build", "-o", bin, "./acctest/standin/mcpgateway/cmd/mcp-gateway")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the stand-in: %v\n%s", err, out)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	health := l.Addr().String()
	l.Close()
	t.Setenv("MCP_STANDIN_HEALTH", health)
	dir := t.TempDir()
	file := filepath.Join(dir, "mcp.yml")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startAgent := func(s *terraform.State) error {
		attrs := s.RootModule().Resources["agentmesh_identity.gw"].Primary.Attributes
		_, cfg, err := acctest.Enroll(attrs["enrollment_jwt"], dir, "gw")
		if err != nil {
			return err
		}
		gz, err := ziti.NewContext(cfg)
		if err != nil {
			return err
		}
		a := &agent.Agent{Ziti: gz, StateDir: dir, Supervisor: &agent.Supervisor{Command: []string{bin, "run", file}, ConfigFile: file,
			StopSignal: agent.StopSignalFor(gateways.KindMCP), Health: agent.HTTPHealth(health)}}
		t.Cleanup(a.Stop)
		svc := s.RootModule().Resources["agentmesh_gateway.mcp"].Primary.Attributes["control_service"]
		ln, err := agent.Listen(ctx, gz, svc, 30*time.Second)
		if err != nil {
			return err
		}
		go func() { _ = control.Serve(ctx, ln, a.Apply, a.Status) }()
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			{Config: mcpConfig(""), Check: startAgent},
			{
				Config: mcpConfig(githubRoute),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr("agentmesh_mcp_route.github", "config_sha256", regexpHex64),
					func(*terraform.State) error {
						c, err := mcpgateway.Load(file)
						if err != nil {
							return fmt.Errorf("the running config fails the strict schema: %w", err)
						}
						if len(c.Backends) != 1 || c.Backends[0].ID != "github" || c.Backends[0].Tools.List[0] != "search_*" {
							return fmt.Errorf("running config: %+v", c.Backends)
						}
						return nil
					},
				),
			},
			{ResourceName: "agentmesh_mcp_route.github", ImportState: true, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"applied_generation", "config_sha256"}},
			{
				Config: mcpConfig(githubRoute + `
resource "agentmesh_mcp_route" "docs" {
  gateway    = agentmesh_gateway.mcp.name
  namespace  = "docs"
  type       = "https"
  endpoint   = "https://docs.example/mcp"
  protocol   = "streamable"
  tools      = ["read_*"]
  identities = [agentmesh_identity.member.id]
}`),
				ExpectError: acctest.ErrorText(`serves routes to different audiences.*Use one gateway per audience`),
			},
			{
				Config: mcpConfig(githubRoute + `
resource "agentmesh_mcp_route" "all" {
  gateway    = agentmesh_gateway.mcp.name
  namespace  = "all"
  type       = "stdio"
  command    = "x"
  tools_mode = "deny"
  tools      = ["*"]
  workgroups = [agentmesh_workgroup.users.name]
}`),
				ExpectError: acctest.ErrorText(`mcp-gateway cannot deny every tool; leave the backend out instead`),
			},
		},
	})
	if b, err := os.ReadFile(file); err != nil || strings.Contains(string(b), "docs") || strings.Contains(string(b), "id: all") {
		t.Fatalf("a refused route reached the gateway: %v\n%s", err, b)
	}
}
