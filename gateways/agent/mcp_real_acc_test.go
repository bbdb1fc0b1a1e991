package agent_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
)

func dialMCP(t *testing.T, z *acctest.Zrok, share string) *acctest.MCPClient {
	t.Helper()
	c, err := acctest.DialMCP(z, share)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func toolNames(t *testing.T, c *acctest.MCPClient) []string {
	t.Helper()
	names, err := c.ToolNames()
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestAccRealMCPGateway: the real mcp-gateway v0.1.3, on configs agentmesh
// renders, in front of a real stdio MCP server written with the official
// go-sdk, serving over a local zrok on a test controller. Tool discovery
// runs for real: the allow and deny filters and the separator give exactly
// the tool names the routes declare, and a filtered tool cannot be called.
// The supervisor counts the gateway started only when it says it serves;
// a backend that fails discovery makes the gateway exit, and the
// supervisor rolls back to the last good config and reports the
// gateway's own reason, with the share token redacted.
func TestAccRealMCPGateway(t *testing.T) {
	ctx := context.Background()
	ctrl, err := acctest.Start(ctx, acctest.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ctrl.Stop()
	dir := t.TempDir()
	z, err := acctest.StartZrok(ctx, ctrl)
	if err != nil {
		t.Fatal(err)
	}
	notes, err := acctest.BuildMCPNotes(dir)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := acctest.Gateway("mcp-gateway")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "mcp-gateway.yaml")
	sup := &agent.Supervisor{Command: []string{bin, "run", file}, ConfigFile: file, StopSignal: agent.StopSignalFor(gateways.KindMCP),
		Ready: agent.ReadyMCP, StartTimeout: 60 * time.Second, Env: z.Env()}
	defer sup.Stop()
	table := func(gen int64, sep string, tools gateways.ToolFilter, args ...string) *gateways.Table {
		return &gateways.Table{Gateway: "real-mcp", Kind: gateways.KindMCP, Generation: gen,
			MCP:       &gateways.MCPSettings{Separator: sep, HeartbeatInterval: "10s", ConnectTimeout: "10s"},
			MCPRoutes: []gateways.MCPRoute{{Namespace: "notes", Transport: gateways.MCPTransport{Type: "stdio", Command: notes, Args: args}, Tools: tools}}}
	}

	// An allow list, and a separator of its own.
	if r := sup.Apply(ctx, table(1, ".", gateways.ToolFilter{Mode: "allow", List: []string{"read_*", "list_*"}})); r.Status != "applied" {
		t.Fatalf("allow list: %+v", r)
	}
	share := sup.ShareToken()
	if share == "" {
		t.Fatal("the gateway said it serves, but named no share")
	}
	c := dialMCP(t, z, share)
	if got, want := toolNames(t, c), []string{"notes.list_notes", "notes.read_note"}; !slices.Equal(got, want) {
		t.Fatalf("tools/list through the real gateway = %v, want %v", got, want)
	}
	if out, err := c.CallTool("notes.read_note", map[string]any{"name": "welcome"}); err != nil || !strings.Contains(out, "served by mcp-notes") {
		t.Fatalf("tools/call of an allowed tool: %q %v", out, err)
	}
	if out, err := c.CallTool("notes.write_note", map[string]any{"name": "x", "text": "y"}); err == nil {
		t.Fatalf("a tool outside the allow list was called: %q", out)
	}

	// A deny list and the default separator.
	if r := sup.Apply(ctx, table(2, "", gateways.ToolFilter{Mode: "deny", List: []string{"delete_*"}})); r.Status != "applied" {
		t.Fatalf("deny list: %+v", r)
	}
	deny := []string{"notes_list_notes", "notes_read_note", "notes_write_note"}
	if got := toolNames(t, dialMCP(t, z, sup.ShareToken())); !slices.Equal(got, deny) {
		t.Fatalf("tools/list with a deny list = %v, want %v", got, deny)
	}

	// A backend that fails discovery: the real gateway exits, the last
	// good config runs again, and the report says why.
	before := sup.Starts()
	r := sup.Apply(ctx, table(3, "", gateways.ToolFilter{Mode: "allow", List: []string{"read_*"}}, "--fail"))
	if r.Status != "rolled-back" || !strings.Contains(r.Error, "failed to discover tools") {
		t.Fatalf("a backend that fails discovery: %+v", r)
	}
	if sup.Starts() != before+2 || sup.Applied().Generation != 2 {
		t.Fatalf("after the failed start: %d starts (want %d), applied %+v", sup.Starts(), before+2, sup.Applied())
	}
	again := sup.ShareToken()
	if again == "" || strings.Contains(r.Error, again) || strings.Contains(r.Error, share) {
		t.Fatalf("rolled back without a share, or the report carries a share token: %q", r.Error)
	}
	if got := toolNames(t, dialMCP(t, z, again)); !slices.Equal(got, deny) {
		t.Fatalf("tools/list after the rollback = %v, want %v", got, deny)
	}
}
