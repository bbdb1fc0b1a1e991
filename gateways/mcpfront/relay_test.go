package mcpfront

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmesh/agentmesh/gateways"
)

type noteArgs struct {
	Text string `json:"text"`
}

// notesGateway is an MCP server over HTTP+SSE, as mcp-gateway serves its
// share (go-sdk's SSE handler): three notes tools, and forty more with
// long descriptions so a tools/list answer is far over 64 KiB. It
// records which tools were called. Like mcp-gateway v0.1.3 (go-sdk v1.1)
// it answers the server/discover probe of newer clients with HTTP 400.
func notesGateway(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var called []string
	sse := mcp.NewSSEHandler(func(*http.Request) *mcp.Server {
		s := mcp.NewServer(&mcp.Implementation{Name: "gateway", Version: "v0"}, nil)
		for _, name := range []string{"notes_read_note", "notes_list_notes", "notes_delete_note"} {
			mcp.AddTool(s, &mcp.Tool{Name: name, Description: name}, func(_ context.Context, _ *mcp.CallToolRequest, in noteArgs) (*mcp.CallToolResult, any, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + ":" + in.Text}}}, nil, nil
			})
		}
		for i := range 40 {
			mcp.AddTool(s, &mcp.Tool{Name: fmt.Sprintf("fs_tool_%d", i), Description: strings.Repeat("d", 2000)},
				func(context.Context, *mcp.CallToolRequest, noteArgs) (*mcp.CallToolResult, any, error) {
					return nil, nil, nil
				})
		}
		return s
	}, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			var m struct {
				Method string
				Params struct{ Name string }
			}
			if json.Unmarshal(b, &m) == nil && m.Method == "server/discover" {
				http.Error(w, `JSON RPC not handled: "server/discover" unsupported`, http.StatusBadRequest)
				return
			}
			if m.Method == "tools/call" {
				mu.Lock()
				called = append(called, m.Params.Name)
				mu.Unlock()
			}
		}
		sse.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(called) }
}

// front serves the relay; the "network" stamps the caller from a test
// header, as each identity's own dark service would.
func front(t *testing.T, rl *Relay) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get("Test-Verified-Identity"); id != "" {
			r = r.WithContext(gateways.WithCaller(r.Context(), id))
		}
		rl.ServeHTTP(w, r)
	}))
	srv.Config.WriteTimeout = time.Second // a session must outlive it
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// relayToNotes is a relay under notesTable's rules in front of
// notesGateway, served as front serves it.
func relayToNotes(t *testing.T) (*Relay, *httptest.Server, func() []string) {
	gw, called := notesGateway(t)
	u, _ := url.Parse(gw.URL + "/sse")
	rl := &Relay{Upstream: u}
	rl.SetRules(RulesOf(notesTable))
	return rl, front(t, rl), called
}

type as string

func (a as) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Test-Verified-Identity", string(a))
	return http.DefaultTransport.RoundTrip(r)
}

func connect(t *testing.T, ctx context.Context, srv *httptest.Server, identity string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: identity, Version: "v0"}, nil)
	cs, err := c.Connect(ctx, &mcp.SSEClientTransport{Endpoint: srv.URL + "/sse", HTTPClient: &http.Client{Transport: as(identity)}}, nil)
	if err != nil {
		t.Fatalf("%s connects: %v", identity, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

var notesTable = &gateways.Table{Kind: gateways.KindMCP,
	MCPRoutes: []gateways.MCPRoute{
		{Namespace: "notes", Tools: gateways.ToolFilter{Mode: "allow", List: []string{"read_*", "list_*"}}},
		{Namespace: "fs"},
	},
	Members: []gateways.Member{{Identity: "analyst", Namespaces: []string{"notes"}}, {Identity: "ops", Namespaces: []string{"notes", "fs"}}}}

// TestRelayAppliesEachIdentitysView runs the official go-sdk client
// through the front to a go-sdk SSE server: each identity lists only the
// tools its routes allow, a call outside them is refused with a JSON-RPC
// error naming the rule and never reaches the gateway, the session
// survives past the server's WriteTimeout and the refusal, and an
// identity with no route is refused at the door.
func TestRelayAppliesEachIdentitysView(t *testing.T) {
	_, srv, called := relayToNotes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	analyst := connect(t, ctx, srv, "analyst")
	lt, err := analyst.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("the analyst lists tools: %v", err)
	}
	var names []string
	for _, tl := range lt.Tools {
		names = append(names, tl.Name)
	}
	if strings.Join(names, ",") != "notes_list_notes,notes_read_note" {
		t.Fatalf("the analyst sees %v", names)
	}
	time.Sleep(1200 * time.Millisecond) // past the front's WriteTimeout
	res, err := analyst.CallTool(ctx, &mcp.CallToolParams{Name: "notes_read_note", Arguments: noteArgs{Text: "q3"}})
	if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != "notes_read_note:q3" {
		t.Fatalf("an allowed call: %+v %v", res, err)
	}
	_, err = analyst.CallTool(ctx, &mcp.CallToolParams{Name: "notes_delete_note", Arguments: noteArgs{}})
	if err == nil || !strings.Contains(err.Error(), `route "notes" allows only read_*, list_*`) {
		t.Fatalf("a call outside the view: %v", err)
	}
	if _, err := analyst.CallTool(ctx, &mcp.CallToolParams{Name: "fs_tool_1", Arguments: noteArgs{}}); err == nil || !strings.Contains(err.Error(), `route "fs" does not serve it`) {
		t.Fatalf("another route's tool: %v", err)
	}
	if err := analyst.Ping(ctx, nil); err != nil {
		t.Fatalf("the session after refusals: %v", err)
	}

	ops := connect(t, ctx, srv, "ops")
	if lt, err := ops.ListTools(ctx, nil); err != nil || len(lt.Tools) != 42 {
		t.Fatalf("ops sees %d tools (%v), want the 2 notes tools it may use and all 40 of fs", len(lt.Tools), err)
	}
	if got := called(); !slices.Equal(got, []string{"notes_read_note"}) {
		t.Fatalf("calls that reached the gateway: %v", got)
	}

	resp, err := (&http.Client{Transport: as("stranger")}).Get(srv.URL + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an identity with no route: %d", resp.StatusCode)
	}
}

// TestRelaySessionsBelongToTheirIdentity: a session id learned by another
// identity is no use to it, and an identity that leaves the audience has
// its open session ended.
func TestRelaySessionsBelongToTheirIdentity(t *testing.T) {
	rl, srv, _ := relayToNotes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	analyst := connect(t, ctx, srv, "analyst")
	if err := analyst.Ping(ctx, nil); err != nil {
		t.Fatal(err)
	}
	rl.mu.Lock()
	var id string
	for k := range rl.sessions {
		id = k
	}
	rl.mu.Unlock()
	body := `{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"notes_read_note","arguments":{"text":"x"}}}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/sse?sessionid="+id, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: as("ops")}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("ops posting into the analyst's session: %d", resp.StatusCode)
	}
	// The analyst leaves the audience: its session ends.
	rl.SetRules(RulesOf(&gateways.Table{Kind: gateways.KindMCP, MCPRoutes: notesTable.MCPRoutes,
		Members: []gateways.Member{{Identity: "ops", Namespaces: []string{"notes"}}}}))
	deadline := time.Now().Add(10 * time.Second)
	for analyst.Ping(ctx, nil) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the analyst's session outlived its route")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRelayLetsNewerClientsFallBack: the gateway answers a newer client's
// server/discover probe with HTTP 400, which ends that client's connect
// when it talks to the gateway directly; through the front the probe
// gets a JSON-RPC error instead, and the client falls back to initialize.
func TestRelayLetsNewerClientsFallBack(t *testing.T) {
	gw, _ := notesGateway(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "direct", Version: "v0"}, nil)
	if cs, err := c.Connect(ctx, &mcp.SSEClientTransport{Endpoint: gw.URL + "/sse"}, nil); err == nil {
		_ = cs.Close()
		t.Fatal("a newer client connected straight to a gateway that refuses server/discover: the fixture no longer behaves like mcp-gateway v0.1.3")
	}
	_, srv, _ := relayToNotes(t)
	if _, err := connect(t, ctx, srv, "analyst").ListTools(ctx, nil); err != nil {
		t.Fatalf("through the front: %v", err)
	}
}

// TestRelayReportsABadGateway: a 502 from the upstream (zrok's access has
// lost the share) is reported, so the agent can make a new access.
func TestRelayReportsABadGateway(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "zrok - bad gateway!", http.StatusBadGateway)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL + "/sse")
	reported := make(chan struct{}, 1)
	rl := &Relay{Upstream: u, OnBadGateway: func() { reported <- struct{}{} }}
	rl.SetRules(RulesOf(notesTable))
	req, _ := http.NewRequest(http.MethodGet, front(t, rl).URL+"/sse", nil)
	resp, err := (&http.Client{Transport: as("analyst")}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	select {
	case <-reported:
	case <-time.After(5 * time.Second):
		t.Fatal("the 502 was not reported")
	}
}

func TestUnambiguous(t *testing.T) {
	for _, c := range []struct {
		body string
		ok   bool
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_read_note"}}`, true},
		{`{"method":"tools/call","Method":"ping"}`, false},
		{`{"method":"tools/call","method":"ping"}`, false},
		{`{"name":"fs_delete","Name":"notes_read"}`, false},
		{`{"arguments":{"name":"a"},"name":"b"}`, true}, // nested keys are another object's
	} {
		if err := unambiguous([]byte(c.body)); (err == nil) != c.ok {
			t.Errorf("unambiguous(%s) = %v, want ok %v", c.body, err, c.ok)
		}
	}
}
