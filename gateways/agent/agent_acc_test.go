package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/gateways/control"
	"github.com/agentmesh/agentmesh/gateways/llmfront"
	"github.com/agentmesh/agentmesh/reconciler"
)

// TestAgentServesPushedMembers: the reconciler pushes a table naming an
// identity and its data-plane service; the agent generates that
// identity's virtual key on the gateway host, restarts the gateway with
// it, and serves the identity on its own service, where the identity gets
// an answer over Ziti without ever holding a key.
func TestAgentServesPushedMembers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := acctest.Engine(t)
	gwID, gwZiti := enrolled(t, e, "ag-gateway", reconciler.KindGateway)
	recID, recZiti := enrolled(t, e, "ag-reconciler", reconciler.KindService)
	memberID, memberZiti := enrolled(t, e, "ag-member", reconciler.KindAgent)
	ctl, err := e.EnsureControlService(ctx, "llm3", gwID, recID)
	if err != nil {
		t.Fatal(err)
	}
	services, err := e.EnsureDataPlane(ctx, "llm3", gwID, map[string]string{memberID: "ag-member"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = e.EnsureDataPlane(context.Background(), "llm3", gwID, nil) })
	var dataSvc string
	for s := range services {
		dataSvc = s
	}

	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"choices":[{"message":{"content":"keyless"}}],"usage":{"total_tokens":5}}`)
	}))
	defer up.Close()
	listen := freePort(t)
	state := t.TempDir()
	file := filepath.Join(state, "llm.yaml")
	gwURL, _ := url.Parse("http://" + listen)
	a := &agent.Agent{Ziti: gwZiti, StateDir: state, Front: llmfront.New(gwURL, nil),
		Supervisor: &agent.Supervisor{Command: []string{gatewayBin(t, "llm-gateway"), "run", file}, ConfigFile: file, StopSignal: agent.StopSignalFor(gateways.KindLLM),
			Health: agent.HTTPHealth(listen)}}
	defer a.Stop()
	ln, err := agent.Listen(ctx, gwZiti, ctl, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	go func() { _ = control.Serve(ctx, ln, a.Apply, a.Status) }()

	table := &gateways.Table{Gateway: "llm3", Kind: gateways.KindLLM, Generation: 1,
		LLM:       &gateways.LLMSettings{Listen: listen, Local: &gateways.LocalProvider{BaseURL: up.URL}},
		LLMRoutes: []gateways.LLMRoute{{Name: "chat", Model: "llama3"}},
		Members:   []gateways.Member{{Identity: "ag-member", Service: dataSvc, AllowedModels: []string{"llama3"}, Budget: &gateways.Budget{Tokens: 1000, Period: "day"}}}}
	wire, _ := json.Marshal(table)
	var r gateways.Report
	for {
		r, err = control.Push(ctx, func() (net.Conn, error) { _ = recZiti.RefreshServices(); return recZiti.Dial(ctl) }, table)
		if err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "dialing") {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil || r.Status != "applied" {
		t.Fatalf("push: %+v %v", r, err)
	}

	// The key lives only on the gateway host, private.
	st, err := os.Stat(filepath.Join(state, "keys.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("keys.json: %v %v", st, err)
	}
	keys, _ := os.ReadFile(filepath.Join(state, "keys.json"))
	if !strings.Contains(string(keys), "sk-gw-") || strings.Contains(string(wire), "sk-gw-") {
		t.Fatalf("a key must be generated on the host and never travel in the table")
	}
	rendered, _ := os.ReadFile(file)
	if !strings.Contains(string(rendered), "ag-member") {
		t.Fatalf("the rendered config lacks the member's key entry:\n%s", rendered)
	}

	c := client(memberZiti, dataSvc)
	var code int
	var body string
	deadline = time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Post("http://llm/v1/chat/completions", "application/json", strings.NewReader(`{"model":"llama3","messages":[{"role":"user","content":"hi"}]}`))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			code, body = resp.StatusCode, string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dialing the data plane: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if code != 200 || !strings.Contains(body, "keyless") {
		t.Fatalf("member over Ziti: %d %s", code, body)
	}
}
