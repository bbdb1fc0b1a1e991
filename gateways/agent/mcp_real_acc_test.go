package agent_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
)

// mcpClient speaks MCP to a gateway's zrok share through the real
// mcp-tools client (stdio JSON-RPC).
type mcpClient struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	next int
}

func dialMCP(t *testing.T, z *acctest.Zrok, share string) *mcpClient {
	t.Helper()
	bin, err := acctest.Gateway("mcp-tools")
	if err != nil {
		t.Fatal(err)
	}
	c := &mcpClient{cmd: exec.Command(bin, "run", share)}
	c.cmd.Env = z.Env()
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.out = bufio.NewScanner(stdout)
	c.out.Buffer(make([]byte, 64<<10), 4<<20)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.in.Close(); _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() })
	if _, err := c.call("initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]string{"name": "agentmesh-test", "version": "1"}}); err != nil {
		t.Fatalf("initialize over share: %v", err)
	}
	if _, err := fmt.Fprintln(c.in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); err != nil {
		t.Fatal(err)
	}
	return c
}

type rpcAnswer struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func (c *mcpClient) call(method string, params any) (json.RawMessage, error) {
	c.next++
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": c.next, "method": method, "params": params})
	if _, err := fmt.Fprintln(c.in, string(b)); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	var a rpcAnswer
	go func() {
		for c.out.Scan() {
			if json.Unmarshal(c.out.Bytes(), &a) == nil && a.ID == c.next {
				done <- nil
				return
			}
		}
		done <- fmt.Errorf("mcp-tools closed its output: %w", c.out.Err())
	}()
	select {
	case err := <-done:
		if err != nil {
			return nil, err
		}
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s: no answer in 30s", method)
	}
	if a.Error != nil {
		return nil, fmt.Errorf("%s: %s", method, a.Error.Message)
	}
	return a.Result, nil
}

func (c *mcpClient) toolNames(t *testing.T) []string {
	t.Helper()
	res, err := c.call("tools/list", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Tools []struct{ Name string } `json:"tools"`
	}
	if err := json.Unmarshal(res, &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range list.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	return names
}

func (c *mcpClient) callTool(name string, args map[string]any) (string, error) {
	res, err := c.call("tools/call", map[string]any{"name": name, "arguments": args})
	if err != nil {
		return "", err
	}
	var r struct {
		IsError bool                    `json:"isError"`
		Content []struct{ Text string } `json:"content"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return "", err
	}
	var text []string
	for _, c := range r.Content {
		text = append(text, c.Text)
	}
	if r.IsError {
		return "", fmt.Errorf("tool error: %s", strings.Join(text, " "))
	}
	return strings.Join(text, "\n"), nil
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
	z, err := acctest.StartZrok(ctx, ctrl, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Stop()
	notes := filepath.Join(dir, "mcp-notes")
	root, _ := acctest.RepoRoot()
	build := exec.Command("go", "build", "-o", notes, "./acctest/mcpnotes/cmd/mcp-notes")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building mcp-notes: %v\n%s", err, out)
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
	if got, want := c.toolNames(t), []string{"notes.list_notes", "notes.read_note"}; !slices.Equal(got, want) {
		t.Fatalf("tools/list through the real gateway = %v, want %v", got, want)
	}
	if out, err := c.callTool("notes.read_note", map[string]any{"name": "welcome"}); err != nil || !strings.Contains(out, "served by mcp-notes") {
		t.Fatalf("tools/call of an allowed tool: %q %v", out, err)
	}
	if out, err := c.callTool("notes.write_note", map[string]any{"name": "x", "text": "y"}); err == nil {
		t.Fatalf("a tool outside the allow list was called: %q", out)
	}

	// A deny list and the default separator.
	if r := sup.Apply(ctx, table(2, "", gateways.ToolFilter{Mode: "deny", List: []string{"delete_*"}})); r.Status != "applied" {
		t.Fatalf("deny list: %+v", r)
	}
	deny := []string{"notes_list_notes", "notes_read_note", "notes_write_note"}
	if got := dialMCP(t, z, sup.ShareToken()).toolNames(t); !slices.Equal(got, deny) {
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
	if got := dialMCP(t, z, again).toolNames(t); !slices.Equal(got, deny) {
		t.Fatalf("tools/list after the rollback = %v, want %v", got, deny)
	}
}
