package acctest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/openziti/sdk-golang/ziti"
)

// BuildMCPNotes builds mcp-notes (acctest/mcpnotes), a real stdio MCP
// server written with the official go-sdk, into dir.
func BuildMCPNotes(dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "mcp-notes")
	build := exec.Command("go", "build", "-o", bin, "./acctest/mcpnotes/cmd/mcp-notes")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building mcp-notes: %w\n%s", err, out)
	}
	return bin, nil
}

// SupervisedGateway is the gateway binary an agent supervises in a test:
// the real llm-gateway, or for "mcp-gateway" the stand-in, for tests that
// need it running without zrok (it checks each config with the real one).
func SupervisedGateway(dir, name string) (string, error) {
	if name == "mcp-gateway" {
		return BuildStandIn(dir, name)
	}
	return Gateway(name)
}

// MCPClient speaks MCP to a gateway's zrok share through the real
// mcp-tools client (JSON-RPC on its stdio).
type MCPClient struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	said logBuffer // what mcp-tools logged, on either stream
	next int
}

// DialMCP starts mcp-tools on share with z's environment and initializes
// the session. Close ends it. A gateway says it serves once its share
// listens, which can be a moment before the edge router has its
// terminator, so a client that exits while connecting is started again,
// for up to 30 s.
func DialMCP(z *Zrok, share string) (*MCPClient, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := DialMCPWith(z.Env(), share)
		if err == nil || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// DialMCPWith starts mcp-tools once, as the zrok account whose environment
// env holds. Its error carries what mcp-tools said.
func DialMCPWith(env []string, share string) (*MCPClient, error) {
	bin, err := Gateway("mcp-tools")
	if err != nil {
		return nil, err
	}
	c := &MCPClient{cmd: exec.Command(bin, "run", share)} //nolint:gosec // the pinned client binary
	c.cmd.Env = env
	c.cmd.Stderr = &c.said
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.out = bufio.NewScanner(stdout)
	c.out.Buffer(make([]byte, 64<<10), 4<<20)
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	if _, err := c.call("initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]string{"name": "agentmesh-test", "version": "1"}}); err != nil {
		c.Close()
		return nil, fmt.Errorf("initialize over share: %w; mcp-tools said: %s", err, strings.TrimSpace(c.said.String()))
	}
	if _, err := fmt.Fprintln(c.in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// logBuffer takes mcp-tools' stderr and the log lines of its stdout, which
// two goroutines write.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Close ends the client.
func (c *MCPClient) Close() {
	_ = c.in.Close()
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

type rpcAnswer struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      int             `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func (c *MCPClient) call(method string, params any) (json.RawMessage, error) {
	c.next++
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": c.next, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintln(c.in, string(b)); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	var a rpcAnswer
	go func() {
		for c.out.Scan() {
			a = rpcAnswer{}
			if json.Unmarshal(c.out.Bytes(), &a) != nil || a.JSONRPC == "" {
				// mcp-tools logs, its last words too, on stdout, in JSON.
				_, _ = c.said.Write(append(c.out.Bytes(), '\n'))
				continue
			}
			if a.ID == c.next {
				done <- nil
				return
			}
		}
		if err := c.out.Err(); err != nil {
			done <- fmt.Errorf("mcp-tools closed its output: %w", err)
			return
		}
		done <- errors.New("mcp-tools closed its output")
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

// ToolNames lists the tools the gateway serves, sorted.
func (c *MCPClient) ToolNames() ([]string, error) {
	res, err := c.call("tools/list", map[string]any{})
	if err != nil {
		return nil, err
	}
	var list struct {
		Tools []struct{ Name string } `json:"tools"`
	}
	if err := json.Unmarshal(res, &list); err != nil {
		return nil, err
	}
	var names []string
	for _, tl := range list.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	return names, nil
}

// CallTool calls a tool and returns its text; a tool error is an error.
func (c *MCPClient) CallTool(name string, args map[string]any) (string, error) {
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

// ToolsOver lists the tools a share serves, with a client of its own.
func ToolsOver(z *Zrok, share string) ([]string, error) {
	c, err := DialMCP(z, share)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ToolNames()
}

// MCPOverZiti opens an MCP session, as z, with the front served on the
// data-plane service svc. A service the context does not list yet, or a
// front still reaching a restarted gateway, is retried for up to 90 s.
func MCPOverZiti(ctx context.Context, z ziti.Context, svc string) (*mcp.ClientSession, error) {
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true, DialContext: func(context.Context, string, string) (net.Conn, error) {
		_ = z.RefreshServices()
		return z.Dial(svc)
	}}}
	c := mcp.NewClient(&mcp.Implementation{Name: "agentmesh-test", Version: "v1"}, nil)
	deadline := time.Now().Add(90 * time.Second)
	for {
		cs, err := c.Connect(ctx, &mcp.SSEClientTransport{Endpoint: "http://mcp/sse", HTTPClient: hc}, nil)
		if err == nil || time.Now().After(deadline) {
			return cs, err
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// ToolsOf lists a session's tools, sorted.
func ToolsOf(ctx context.Context, cs *mcp.ClientSession) ([]string, error) {
	var names []string
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return nil, err
		}
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names, nil
}

// CallText calls a tool and returns its text; a tool error is an error.
func CallText(ctx context.Context, cs *mcp.ClientSession, name string, args map[string]any) (string, error) {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return "", err
	}
	var text []string
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			text = append(text, t.Text)
		}
	}
	if res.IsError {
		return "", fmt.Errorf("tool error: %s", strings.Join(text, " "))
	}
	return strings.Join(text, "\n"), nil
}
