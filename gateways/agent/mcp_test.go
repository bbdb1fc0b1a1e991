package agent_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentmesh/agentmesh/acctest/standin/mcpgateway"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/gateways/mcpfront"
)

func mcpTable(gen int64, backends ...string) *gateways.Table {
	t := &gateways.Table{Gateway: "mcp", Kind: gateways.KindMCP, Generation: gen, MCP: &gateways.MCPSettings{ShareToken: "share", HeartbeatInterval: "10s"}}
	for _, b := range backends {
		t.MCPRoutes = append(t.MCPRoutes, gateways.MCPRoute{Namespace: b, Transport: gateways.MCPTransport{Type: "stdio", Command: b + "-mcp"},
			Tools: gateways.ToolFilter{Mode: "allow", List: []string{"search_*"}}})
	}
	return t
}

// TestSupervisorRestartsMCPWithSIGINT: mcp-gateway shuts down cleanly only
// on SIGINT (SIGTERM kills it without cleanup), so the supervisor must
// restart it with SIGINT; the strict stand-in accepts the rendered config.
func TestSupervisorRestartsMCPWithSIGINT(t *testing.T) {
	bin := gatewayBin(t, "mcp-gateway")
	dir := t.TempDir()
	health := freePort(t)
	marker := filepath.Join(dir, "clean")
	t.Setenv("MCP_STANDIN_HEALTH", health)
	t.Setenv("MCP_STANDIN_MARKER", marker)
	file := filepath.Join(dir, "mcp.yml")
	s := &agent.Supervisor{Command: []string{bin, "run", file}, ConfigFile: file, StopSignal: agent.StopSignalFor(gateways.KindMCP),
		Health: agent.HTTPHealth(health)}
	defer s.Stop()
	ctx := context.Background()
	if r := s.Apply(ctx, mcpTable(1, "github")); r.Status != "applied" {
		t.Fatalf("first apply: %+v", r)
	}
	if _, err := mcpgateway.Load(file); err != nil {
		t.Fatalf("the strict stand-in refuses the rendered file: %v", err)
	}
	deny := mcpTable(2, "github")
	deny.MCPRoutes[0].Tools = gateways.ToolFilter{Mode: "deny", List: []string{"*"}}
	if r := s.Apply(ctx, deny); r.Status != "rejected" {
		t.Fatalf("deny-all must be rejected: %+v", r)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a rejected table restarted the gateway")
	}
	if r := s.Apply(ctx, mcpTable(3, "github", "docs")); r.Status != "applied" {
		t.Fatalf("second apply: %+v", r)
	}
	if b, err := os.ReadFile(marker); err != nil || len(b) == 0 {
		t.Fatalf("the old mcp-gateway was not stopped with SIGINT (no clean-shutdown marker): %v", err)
	}
}

// TestMCPFrontNeedsAZrokEnvironment: a gateway host whose HOME holds no
// enabled zrok environment stops the agent at start, before it opens its
// identity, with an error saying what to run; a table pushed after the
// environment went missing is refused before the gateway is touched.
func TestMCPFrontNeedsAZrokEnvironment(t *testing.T) {
	home := t.TempDir()
	cfg := &agent.Config{Kind: "mcp", IdentityFile: filepath.Join(home, "no-identity.json"), ControlService: "agentmesh.ctl.mcp",
		StateDir: filepath.Join(home, "state"), Command: []string{"mcp-gateway", "run", "{config}"}, Zrok: "zrok2", Env: map[string]string{"HOME": home}}
	err := agent.Run(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if !errors.Is(err, agent.ErrNoZrokEnvironment) || !strings.Contains(err.Error(), "zrok2 enable") || strings.Contains(err.Error(), "identity") {
		t.Fatalf("an agent without a zrok environment: %v", err)
	}

	file := filepath.Join(home, "mcp-gateway.yaml")
	sup := &agent.Supervisor{Command: []string{"/nonexistent/mcp-gateway", "run", file}, ConfigFile: file, Ready: agent.ReadyMCP}
	a := &agent.Agent{Supervisor: sup, StateDir: t.TempDir(), Relay: &mcpfront.Relay{}, Access: &agent.Access{Command: "zrok2"}, ZrokHome: home}
	r := a.Apply(context.Background(), mcpTable(1, "notes"))
	if r.Status != "rejected" || !strings.Contains(r.Error, "no enabled zrok environment") {
		t.Fatalf("a push without a zrok environment: %+v", r)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) || sup.Starts() != 0 {
		t.Fatalf("the refused push touched the gateway: config %v, %d starts", err, sup.Starts())
	}
}
