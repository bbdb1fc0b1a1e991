package llmfront_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/acctest/standin/llmgateway"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/llmfront"
)

// upstream is a local OpenAI-compatible model server with usage counts.
func upstream(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), `"stream":true`) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"hello\"}}]}\n\n")
			fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"total_tokens\":40}}\n\ndata: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"choices":[{"message":{"content":"hello"}}],"usage":{"prompt_tokens":25,"completion_tokens":15,"total_tokens":40}}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestRenderedConfigDrivesTheGateway: a route table rendered by agentmesh
// starts the strict llm-gateway stand-in, and the front enforces each
// identity's routes and budget in front of it.
func TestRenderedConfigDrivesTheGateway(t *testing.T) {
	up := upstream(t)
	key := "sk-gw-" + strings.Repeat("b", 64)
	table := &gateways.Table{Gateway: "llm-e2e", Kind: gateways.KindLLM, Generation: 1,
		LLM:       &gateways.LLMSettings{Listen: "127.0.0.1:0", Local: &gateways.LocalProvider{BaseURL: up.URL}},
		LLMRoutes: []gateways.LLMRoute{{Name: "chat", Model: "llama3", Budget: &gateways.Budget{Tokens: 100, Period: "hour"}}},
		Keys:      []gateways.VirtualKey{{Identity: "pulse-agent", Key: key, AllowedModels: []string{"llama3"}}},
	}
	r, err := gateways.Render(table)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "llm-gateway.yaml")
	if err := gateways.WriteAtomic(file, r.YAML); err != nil {
		t.Fatal(err)
	}
	cfg, err := llmgateway.Load(file)
	if err != nil {
		t.Fatalf("the stand-in refuses the rendered config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	go func() { _ = llmgateway.Run(ctx, cfg, ready) }()
	addr := <-ready
	health, err := http.Get("http://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	health.Body.Close()
	if health.StatusCode != http.StatusOK {
		t.Fatalf("health: %d", health.StatusCode)
	}

	gw, _ := url.Parse("http://" + addr)
	front := llmfront.New(gw, nil)
	front.SetGrants(map[string]llmfront.Grant{"pulse-agent": {Key: key, AllowedModels: []string{"llama3"}, Budget: 100, Period: time.Hour}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		front.ServeHTTP(w, r.WithContext(llmfront.WithIdentity(r.Context(), "pulse-agent")))
	}))
	defer srv.Close()
	chat := func(model string, stream bool) (int, string) {
		resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(fmt.Sprintf(`{"model":%q,"stream":%t,"messages":[{"role":"user","content":"hi"}]}`, model, stream)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := chat("llama3", false); code != 200 || !strings.Contains(body, "hello") {
		t.Fatalf("allowed model: %d %s", code, body)
	}
	if code, body := chat("mistral", false); code != 403 {
		t.Fatalf("model outside the routes: %d %s", code, body)
	}
	if code, body := chat("llama3", true); code != 200 || !strings.Contains(body, "[DONE]") {
		t.Fatalf("stream: %d %s", code, body)
	}
	time.Sleep(50 * time.Millisecond) // the stream's usage is booked as it ends
	if code, _ := chat("llama3", false); code != 200 {
		t.Fatalf("third request within budget (80 of 100 spent): %d", code)
	}
	if code, body := chat("llama3", false); code != 429 || !strings.Contains(body, "budget") {
		t.Fatalf("after the budget: %d %s", code, body)
	}

	// The gateway itself refuses a caller that bypassed the front.
	resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"llama3"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("a request without the virtual key reached the model: %d", resp.StatusCode)
	}
}

func TestStandInIsStrict(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:0\nprovider:\n  local:\n    base_url: http://x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := llmgateway.Load(file); err == nil || !strings.Contains(err.Error(), "provider") {
		t.Fatalf("a misspelt key must be refused, got %v", err)
	}
}
