package gateways

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentmesh/agentmesh/acctest/standin/refschema"
)

// strict decodes with the real gateway's schema (refschema), which rejects
// any key the gateway would not read; v0.1.4 itself ignores unknown keys
// silently, so this is where a typo gets caught.
func strict(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := refschema.Decode(b, v); err != nil {
		t.Fatalf("the gateway's schema rejects the rendered file: %v\n%s", err, b)
	}
}

func llmTable() *Table {
	return &Table{Gateway: "llm-1", Kind: KindLLM, Generation: 7,
		LLM: &LLMSettings{Listen: "127.0.0.1:18080", OpenAI: &ProviderCreds{APIKey: "sk-openai-secret"}, Local: &LocalProvider{BaseURL: "http://127.0.0.1:11434"}},
		LLMRoutes: []LLMRoute{
			{Name: "coding", Model: "gpt-4o", Description: "code", Examples: []string{"fix this bug"}, Heuristics: []Heuristic{{Keywords: []string{"code"}}}},
			{Name: "chat", Model: "llama3", Budget: &Budget{Tokens: 1000, Period: "day"}},
		},
		Keys: []VirtualKey{{Identity: "pulse-agent", Key: "sk-gw-" + strings.Repeat("a", 64), AllowedModels: []string{"gpt-4o", "llama3"}}},
	}
}

func TestRenderLLMMatchesTheGatewaySchema(t *testing.T) {
	r, err := Render(llmTable())
	if err != nil {
		t.Fatal(err)
	}
	var c refschema.LLM
	strict(t, r.YAML, &c)
	if c.Listen != "127.0.0.1:18080" || c.Providers.OpenAI.APIKey != "sk-openai-secret" || c.Providers.Local.BaseURL != "http://127.0.0.1:11434" {
		t.Fatalf("providers: %+v", c.Providers)
	}
	if len(c.Routing.Routes) != 2 || c.Routing.Routes[0].Model != "gpt-4o" || c.Routing.Heuristics.Rules[0].Route != "coding" {
		t.Fatalf("routing: %+v", c.Routing)
	}
	if !c.APIKeys.Enabled || len(c.APIKeys.Keys) != 1 || c.APIKeys.Keys[0].Name != "pulse-agent" || len(c.APIKeys.Keys[0].AllowedRoutes) != 0 {
		t.Fatalf("keys: %+v (allowed_routes must never be written: v0.1.4 mishandles it)", c.APIKeys)
	}
	again, _ := Render(llmTable())
	if again.SHA256 != r.SHA256 || len(r.SHA256) != 64 {
		t.Fatal("rendering is not deterministic")
	}
}

func mcpTable() *Table {
	return &Table{Gateway: "mcp-1", Kind: KindMCP, Generation: 3, MCP: &MCPSettings{ShareToken: "share-1", HeartbeatInterval: "10s"},
		MCPRoutes: []MCPRoute{
			{Namespace: "github", Transport: MCPTransport{Type: "stdio", Command: "github-mcp", Env: map[string]string{"TOKEN": "x"}}, Tools: ToolFilter{Mode: "allow", List: []string{"search_*"}}},
			{Namespace: "docs", Transport: MCPTransport{Type: "https", Endpoint: "https://docs.example/mcp", Protocol: "streamable"}, Tools: ToolFilter{Mode: "deny", List: []string{"delete_*"}}},
		}}
}

func TestRenderMCPMatchesTheGatewaySchema(t *testing.T) {
	r, err := Render(mcpTable())
	if err != nil {
		t.Fatal(err)
	}
	var c refschema.MCP
	strict(t, r.YAML, &c)
	if c.Aggregator.Separator != "_" || c.Orchestrator.HeartbeatInterval != "10s" || len(c.Backends) != 2 {
		t.Fatalf("rendered %+v", c)
	}
	if b := c.Backends[0]; b.ID != "github" || b.Transport.Type != "stdio" || b.Tools.List[0] != "search_*" {
		t.Fatalf("backend %+v", b)
	}
}

func TestValidateRefusesWhatTheTargetCannotDo(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Table)
		want   error
		text   string
	}{
		{"model for an unconfigured provider", func(t *Table) { t.LLMRoutes[0].Model = "claude-3-opus" }, ErrUnsupported, "provider anthropic"},
		{"duplicate route", func(t *Table) { t.LLMRoutes[1].Name = "coding" }, ErrInvalid, "declared twice"},
		{"budget without a period", func(t *Table) { t.LLMRoutes[1].Budget.Period = "fortnight" }, ErrInvalid, "budget"},
		{"bad model glob", func(t *Table) { t.Keys[0].AllowedModels = []string{"gpt-["} }, ErrInvalid, "pattern"},
		{"control character in a route name (found by FuzzRenderLLM)", func(t *Table) { t.LLMRoutes[0].Name = "\n" }, ErrInvalid, "non-empty"},
		{"blank example (found by FuzzRenderLLM: YAML loses it)", func(t *Table) { t.LLMRoutes[0].Examples = []string{"\n"} }, ErrInvalid, "example"},
		{"embeddings from an unconfigured provider", func(t *Table) { t.LLM.Semantic = &SemanticRouting{Provider: "openai", Model: "e"}; t.LLM.OpenAI = nil }, ErrUnsupported, "embeddings with the openai provider"},
		{"semantic routing without a model", func(t *Table) { t.LLM.Semantic = &SemanticRouting{Provider: "local"} }, ErrInvalid, "semantic routing model"},
		{"default route that is no route", func(t *Table) { t.LLM.DefaultRoute = "nowhere" }, ErrInvalid, "not one of its routes"},
		{"base url that would be expanded", func(t *Table) { t.LLM.OpenAI.BaseURL = "https://${HOST}" }, ErrInvalid, "expands"},
		{"hosted base url ending in /v1 (the real gateway appends /v1/chat/completions)", func(t *Table) { t.LLM.OpenAI.BaseURL = "https://api.openai.com/v1/" }, ErrInvalid, `use "https://api.openai.com"`},
		{"local base url ending in /v1", func(t *Table) { t.LLM.Local = &LocalProvider{BaseURL: "http://127.0.0.1:11434/v1"} }, ErrInvalid, "ends in /v1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tab := llmTable()
			tc.mutate(tab)
			err := tab.Validate()
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.want, tc.text)
			}
		})
	}
	mcp := []struct {
		name   string
		mutate func(*Table)
		want   error
		text   string
	}{
		{"duplicate namespace", func(t *Table) { t.MCPRoutes[1].Namespace = "github" }, ErrInvalid, "used twice"},
		{"deny all", func(t *Table) { t.MCPRoutes[1].Tools.List = []string{"*"} }, ErrUnsupported, "cannot deny every tool"},
		{"empty allow list", func(t *Table) { t.MCPRoutes[0].Tools.List = nil }, ErrUnsupported, "exposes every tool"},
		{"http endpoint for https", func(t *Table) { t.MCPRoutes[1].Transport.Endpoint = "http://docs" }, ErrInvalid, "https://"},
	}
	for _, tc := range mcp {
		t.Run(tc.name, func(t *testing.T) {
			tab := mcpTable()
			tc.mutate(tab)
			err := tab.Validate()
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.want, tc.text)
			}
			if _, rerr := Render(tab); rerr == nil {
				t.Fatal("Render must refuse an invalid table")
			}
		})
	}
}

func TestWriteAtomicIsPrivateAndWhole(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(p, []byte("new: true\n")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600 (the file holds provider API keys)", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(p); string(b) != "new: true\n" {
		t.Fatalf("content %q", b)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".config.yaml.*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

// FuzzRenderLLM: any table that validates renders into a file the real
// gateway's schema accepts, with every route present, deterministically.
func FuzzRenderLLM(f *testing.F) {
	f.Add("coding", "gpt-4o", "fix: \"quoted\" & {braces}", "code", int64(100))
	f.Add("a: b", "llama3", "- list\n- looking", "", int64(0))
	f.Add("#comment", "o1-mini", "yes", "no", int64(-1))
	f.Fuzz(func(t *testing.T, name, model, example, keyword string, tokens int64) {
		tab := llmTable()
		tab.LLMRoutes = []LLMRoute{{Name: name, Model: model, Examples: []string{example}, Heuristics: []Heuristic{{Keywords: []string{keyword}}}}}
		if tokens > 0 {
			tab.LLMRoutes[0].Budget = &Budget{Tokens: tokens, Period: "hour"}
		}
		r, err := Render(tab)
		if err != nil {
			return // refused tables are fine; Validate says why
		}
		var c refschema.LLM
		strict(t, r.YAML, &c)
		if len(c.Routing.Routes) != 1 || c.Routing.Routes[0].Name != name || c.Routing.Routes[0].Model != model || c.Routing.Routes[0].Examples[0] != example {
			t.Fatalf("route did not survive rendering: %+v", c.Routing.Routes)
		}
		again, _ := Render(tab)
		if again.SHA256 != r.SHA256 {
			t.Fatal("not deterministic")
		}
	})
}

// FuzzRenderMCP: any MCP table that validates, with secrets filled in by
// the agent's store, renders into a file mcp-gateway's schema accepts, with
// every value (secrets included) intact.
func FuzzRenderMCP(f *testing.F) {
	f.Add("github", "github-mcp", "LOG", "info", "ghp: \"x\" #y", "search_*", "__")
	f.Add("docs", "-c", "A", "", "\n- not a list", "[a-z]*", "")
	f.Fuzz(func(t *testing.T, ns, command, envKey, envVal, secret, tool, sep string) {
		tab := &Table{Gateway: "mcp-f", Kind: KindMCP, MCP: &MCPSettings{Separator: sep, HeartbeatInterval: "10s"},
			MCPRoutes: []MCPRoute{{Namespace: ns, Transport: MCPTransport{Type: "stdio", Command: command, Args: []string{secret, envVal}, Env: map[string]string{envKey: envVal}},
				Tools: ToolFilter{Mode: "allow", List: []string{tool}}}},
			Secrets:      map[string]int64{EnvSecret(ns, "TOKEN"): 1},
			SecretValues: map[string]string{EnvSecret(ns, "TOKEN"): secret}}
		store := SecretStore{}
		store.Remember(tab)
		if err := store.Fill(tab); err != nil {
			return
		}
		r, err := Render(tab)
		if err != nil {
			return // refused tables are fine; Validate says why
		}
		var c refschema.MCP
		strict(t, r.YAML, &c)
		if len(c.Backends) != 1 {
			t.Fatalf("backends %d", len(c.Backends))
		}
		b := c.Backends[0]
		if b.ID != ns || b.Transport.Command != command || b.Tools.List[0] != tool || b.Transport.Env["TOKEN"] != secret ||
			len(b.Transport.Args) != 2 || b.Transport.Args[0] != secret || b.Transport.Args[1] != envVal {
			t.Fatalf("backend did not survive rendering: %+v", b)
		}
		if envKey != "TOKEN" && b.Transport.Env[envKey] != envVal {
			t.Fatalf("env %q did not survive rendering", envKey)
		}
	})
}
