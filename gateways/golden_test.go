package gateways

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentmesh/agentmesh/acctest/standin/refschema"
)

// update rewrites the golden files from what Render produces now:
//
//	go test ./gateways -run TestRenderGolden -update
//
// Read every rewritten file against shared/reference/gateways.md before
// keeping it: a golden only proves the bytes did not change, not that they
// are right.
var update = flag.Bool("update", false, "rewrite testdata/golden/*.yaml from Render's output")

const goldenDir = "testdata/golden"

// goldenCase is one reference-schema feature that a Table can express. The
// case name is the golden file's stem.
type goldenCase struct {
	name  string
	table *Table
	// absent are strings that must never appear in the rendered file
	// (say, intent the data-plane front enforces, not the gateway).
	absent []string
}

func llmGolden(s *LLMSettings, routes []LLMRoute, keys []VirtualKey) *Table {
	return &Table{Gateway: "llm-golden", Kind: KindLLM, Generation: 1, LLM: s, LLMRoutes: routes, Keys: keys}
}

func mcpGolden(s *MCPSettings, routes ...MCPRoute) *Table {
	return &Table{Gateway: "mcp-golden", Kind: KindMCP, Generation: 1, MCP: s, MCPRoutes: routes}
}

// echoBackend is the smallest backend mcp-gateway starts with.
var echoBackend = MCPRoute{Namespace: "echo", Transport: MCPTransport{Type: "stdio", Command: "mcp-echo"}, Tools: ToolFilter{Mode: "allow", List: []string{"echo"}}}

const goldenListen = "127.0.0.1:18080"

func goldenLocal() *LocalProvider { return &LocalProvider{BaseURL: "http://127.0.0.1:11434"} }

func goldenCases() []goldenCase {
	return []goldenCase{
		// llm-gateway v0.1.4
		{name: "llm-listen", table: llmGolden(&LLMSettings{Listen: goldenListen}, nil, nil)},
		{name: "llm-local-provider-base-url", table: llmGolden(&LLMSettings{Listen: goldenListen, Local: goldenLocal()}, nil, nil)},
		{name: "llm-local-endpoints-weighted", table: llmGolden(&LLMSettings{Listen: goldenListen, Local: &LocalProvider{Endpoints: []LocalEndpoint{
			{Name: "gpu-a", BaseURL: "http://10.0.0.1:11434", Weight: 3},
			{Name: "gpu-b", BaseURL: "http://10.0.0.2:11434", Weight: 1},
		}}}, nil, nil)},
		{name: "llm-openai-provider", table: llmGolden(&LLMSettings{Listen: goldenListen,
			OpenAI: &ProviderCreds{APIKey: "sk-test-openai", BaseURL: "https://openai.example.test"}}, nil, nil)},
		{name: "llm-anthropic-provider", table: llmGolden(&LLMSettings{Listen: goldenListen,
			Anthropic: &ProviderCreds{APIKey: "sk-test-anthropic"}},
			[]LLMRoute{{Name: "writing", Model: "claude-3-5-sonnet"}}, nil)},
		{name: "llm-semantic-routes", table: llmGolden(&LLMSettings{Listen: goldenListen, Local: goldenLocal()}, []LLMRoute{
			{Name: "coding", Model: "qwen2.5-coder", Description: "Programming, debugging and code review", Examples: []string{"fix this stack trace", "write a Go test"}},
			{Name: "chat", Model: "llama3", Description: "General conversation"},
		}, nil)},
		{name: "llm-semantic-router", table: llmGolden(&LLMSettings{Listen: goldenListen, Local: goldenLocal(),
			Semantic: &SemanticRouting{Provider: "local", Model: "nomic-embed-text", Threshold: 0.75}, DefaultRoute: "chat"}, []LLMRoute{
			{Name: "coding", Model: "qwen2.5-coder", Description: "Programming, debugging and code review", Examples: []string{"fix this stack trace"}},
			{Name: "chat", Model: "llama3", Description: "General conversation"},
		}, nil)},
		{name: "llm-heuristics-rules", table: llmGolden(&LLMSettings{Listen: goldenListen, Local: goldenLocal()}, []LLMRoute{
			{Name: "coding", Model: "qwen2.5-coder", Heuristics: []Heuristic{
				{Keywords: []string{"code", "bug"}, Exclude: []string{"poem"}},
				{Keywords: []string{"stack trace"}},
			}},
			{Name: "chat", Model: "llama3", Heuristics: []Heuristic{{Keywords: []string{"hello"}}}},
		}, nil)},
		{name: "llm-api-keys-allowed-models", table: llmGolden(&LLMSettings{Listen: goldenListen, Local: goldenLocal()}, nil, []VirtualKey{
			// Deliberately unsorted: the renderer orders keys by identity.
			{Identity: "zeta-agent", Key: "sk-gw-" + strings.Repeat("b", 64), AllowedModels: []string{"llama3"}},
			{Identity: "alpha-agent", Key: "sk-gw-" + strings.Repeat("a", 64), AllowedModels: []string{"gpt-4o*", "llama3"}},
		})},
		{name: "llm-budgets-not-rendered", table: func() *Table {
			t := llmGolden(&LLMSettings{Listen: goldenListen, Local: goldenLocal()},
				[]LLMRoute{{Name: "chat", Model: "llama3", Budget: &Budget{Tokens: 5000, Period: "day"}}},
				[]VirtualKey{{Identity: "pulse-agent", Key: "sk-gw-" + strings.Repeat("c", 64), AllowedModels: []string{"llama3"}}})
			t.Members = []Member{{Identity: "pulse-agent", Service: "pulse-agent-llm", AllowedModels: []string{"llama3"}, Budget: &Budget{Tokens: 1000, Period: "hour"}}}
			return t
		}(), absent: []string{"budget", "tokens", "period", "5000", "1000", "hour", "day"}},
		{name: "llm-multiple-routes-ordering", table: llmGolden(&LLMSettings{Listen: goldenListen, Local: goldenLocal(),
			OpenAI: &ProviderCreds{APIKey: "sk-test-openai"}, Anthropic: &ProviderCreds{APIKey: "sk-test-anthropic"}}, []LLMRoute{
			// Not alphabetical: routes[0] is llm-gateway's last resort,
			// so the table's order must survive.
			{Name: "zeta", Model: "llama3"},
			{Name: "alpha", Model: "gpt-4o"},
			{Name: "mid", Model: "claude-3-5-sonnet"},
		}, nil)},

		// mcp-gateway v0.1.3
		{name: "mcp-aggregator", table: mcpGolden(&MCPSettings{Name: "tools-hub", Version: "1.2.3", Separator: "."}, echoBackend)},
		{name: "mcp-aggregator-defaults", table: mcpGolden(nil, echoBackend)},
		{name: "mcp-share-token", table: mcpGolden(&MCPSettings{ShareToken: "test-share-token"}, echoBackend)},
		{name: "mcp-orchestrator-heartbeat", table: mcpGolden(&MCPSettings{HeartbeatInterval: "10s"}, echoBackend)},
		{name: "mcp-stdio-transport", table: mcpGolden(nil, MCPRoute{Namespace: "github",
			Transport: MCPTransport{Type: "stdio", Command: "github-mcp", Args: []string{"--read-only", "--toolsets=repos"},
				Env: map[string]string{"GITHUB_TOKEN": "ghp-test-token", "LOG_LEVEL": "debug"}, WorkingDir: "/var/lib/mcp/github"},
			Tools: ToolFilter{Mode: "allow", List: []string{"search_*"}}})},
		{name: "mcp-http-sse-headers", table: mcpGolden(nil, MCPRoute{Namespace: "wiki",
			Transport: MCPTransport{Type: "http", Endpoint: "http://127.0.0.1:9000/sse", Protocol: "sse", AllowInsecure: true,
				Headers: map[string]string{"Authorization": "Bearer test-token", "X-Tenant": "golden"}},
			Tools: ToolFilter{Mode: "allow", List: []string{"read_page"}}})},
		{name: "mcp-https-streamable", table: mcpGolden(nil, MCPRoute{Namespace: "docs",
			Transport: MCPTransport{Type: "https", Endpoint: "https://docs.example.test/mcp", Protocol: "streamable"},
			Tools:     ToolFilter{Mode: "allow", List: []string{"search"}}})},
		{name: "mcp-https-tls-ca", table: mcpGolden(nil, MCPRoute{Namespace: "internal",
			Transport: MCPTransport{Type: "https", Endpoint: "https://mcp.internal.example.test:8443/sse", Protocol: "sse",
				TLS: &MCPTLS{CACertFile: "/etc/agentmesh/internal-ca.pem"}},
			Tools: ToolFilter{Mode: "deny", List: []string{"admin_*"}}})},
		{name: "mcp-https-tls-skip-verify", table: mcpGolden(nil, MCPRoute{Namespace: "lab",
			Transport: MCPTransport{Type: "https", Endpoint: "https://lab.example.test/mcp", Protocol: "streamable", TLS: &MCPTLS{InsecureSkipVerify: true}},
			Tools:     ToolFilter{Mode: "allow", List: []string{"run_*"}}})},
		{name: "mcp-connection-timeouts", table: mcpGolden(&MCPSettings{ConnectTimeout: "5s", CallTimeout: "2m"}, echoBackend)},
		{name: "mcp-zrok-transport", table: mcpGolden(nil, MCPRoute{Namespace: "remote",
			Transport: MCPTransport{Type: "zrok", ShareToken: "test-backend-share"},
			Tools:     ToolFilter{Mode: "allow", List: []string{"lookup"}}})},
		{name: "mcp-tools-allow", table: mcpGolden(nil, MCPRoute{Namespace: "fs",
			Transport: MCPTransport{Type: "stdio", Command: "mcp-fs"},
			Tools:     ToolFilter{Mode: "allow", List: []string{"read_*", "list_directory"}}})},
		{name: "mcp-tools-deny", table: mcpGolden(nil, MCPRoute{Namespace: "fs",
			Transport: MCPTransport{Type: "stdio", Command: "mcp-fs"},
			Tools:     ToolFilter{Mode: "deny", List: []string{"write_*", "delete_*"}}})},
	}
}

// TestRenderGolden pins, per reference-schema feature, the exact file
// Render writes, and checks every golden against the gateway's strict
// schema so no golden can hold a key the gateway would not read.
func TestRenderGolden(t *testing.T) {
	cases := goldenCases()
	names := map[string]bool{}
	for _, tc := range cases {
		if names[tc.name] {
			t.Fatalf("case %q is declared twice", tc.name)
		}
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			r, err := Render(tc.table)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			file := filepath.Join(goldenDir, tc.name+".yaml")
			if *update {
				if err := os.MkdirAll(goldenDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, r.YAML, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			// The golden itself must be something the gateway reads.
			switch tc.table.Kind {
			case KindLLM:
				var c refschema.LLM
				if err := refschema.Decode(want, &c); err != nil {
					t.Fatalf("%s: the llm-gateway schema rejects the golden: %v", file, err)
				}
			case KindMCP:
				var c refschema.MCP
				if err := refschema.Decode(want, &c); err != nil {
					t.Fatalf("%s: the mcp-gateway schema rejects the golden: %v", file, err)
				}
			default:
				t.Fatalf("case has unknown kind %q", tc.table.Kind)
			}
			for _, s := range tc.absent {
				if bytes.Contains(bytes.ToLower(want), []byte(strings.ToLower(s))) {
					t.Errorf("%s holds %q, which must never reach the gateway's file", file, s)
				}
			}
			if !bytes.Equal(r.YAML, want) {
				t.Fatalf("Render output differs from %s (run with -update if the change is intended):\n%s", file, firstDiff(want, r.YAML))
			}
		})
	}
	// A golden without a case is stale: it pins nothing.
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".yaml"); !names[name] {
			t.Errorf("%s has no case in TestRenderGolden; delete it or add the case", f)
		}
	}
}

// firstDiff reports the first line where got departs from want.
func firstDiff(want, got []byte) string {
	w := strings.Split(string(want), "\n")
	g := strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		wok, gok := i < len(w), i < len(g)
		if wok {
			wl = w[i]
		}
		if gok {
			gl = g[i]
		}
		if wok && gok && wl == gl {
			continue
		}
		line := func(ok bool, s string) string {
			if !ok {
				return "<end of file>"
			}
			return fmt.Sprintf("%q", s)
		}
		return fmt.Sprintf("first difference at line %d:\n  golden: %s\n  render: %s", i+1, line(wok, wl), line(gok, gl))
	}
	return "files differ only in bytes the line split cannot show"
}
