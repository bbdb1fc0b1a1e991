package gateways

import (
	"errors"
	"strings"
	"testing"
)

func hosted() *Table {
	return &Table{Gateway: "llm-1", Kind: KindLLM,
		LLM:       &LLMSettings{Listen: "127.0.0.1:8080", OpenAI: &ProviderCreds{BaseURL: "https://api.openai.com"}},
		LLMRoutes: []LLMRoute{{Name: "coding", Model: "gpt-4o"}},
		Secrets:   map[string]int64{SecretOpenAIKey: 2}}
}

func TestSecretsTravelOnceAndAreKept(t *testing.T) {
	store := SecretStore{}
	// A re-push naming a key the agent never got is refused, and says how
	// to deliver it.
	if err := store.Fill(hosted()); !errors.Is(err, ErrSecretMissing) || !strings.Contains(err.Error(), "secrets version raised") {
		t.Fatalf("missing key: %v", err)
	}
	withValue := hosted()
	withValue.SecretValues = map[string]string{SecretOpenAIKey: "sk-live-1", "llm.unasked": "x"}
	if !store.Remember(withValue) || len(store) != 1 {
		t.Fatalf("store after delivery: %v", len(store))
	}
	// The same table without the value renders with the kept key.
	later := hosted()
	if err := store.Fill(later); err != nil || later.LLM.OpenAI.APIKey != "sk-live-1" {
		t.Fatalf("fill: %v", err)
	}
	if later.Digest() != withValue.Digest() {
		t.Fatal("a secret value changed the table digest; re-pushes would never look converged")
	}
	if _, err := Render(later); err != nil {
		t.Fatal(err)
	}
	// A newer version than the one kept is refused, not served stale.
	newer := hosted()
	newer.Secrets[SecretOpenAIKey] = 3
	if err := store.Fill(newer); !errors.Is(err, ErrSecretMissing) || strings.Contains(err.Error(), "sk-live-1") {
		t.Fatalf("stale key: %v", err)
	}
	// A table that no longer names the key makes the agent forget it.
	local := &Table{Gateway: "llm-1", Kind: KindLLM, LLM: &LLMSettings{Listen: "127.0.0.1:8080", Local: &LocalProvider{BaseURL: "http://127.0.0.1:11434"}}}
	if !store.Remember(local) || len(store) != 0 {
		t.Fatal("an unneeded key was kept")
	}
}

func TestMCPSecretsLandInTheirBackend(t *testing.T) {
	tbl := &Table{Gateway: "mcp-1", Kind: KindMCP, MCP: &MCPSettings{HeartbeatInterval: "10s"},
		MCPRoutes: []MCPRoute{
			{Namespace: "gh", Transport: MCPTransport{Type: "stdio", Command: "gh-mcp", Env: map[string]string{"LOG": "info"}}, Tools: ToolFilter{Mode: "deny", List: []string{"delete_*"}}},
			{Namespace: "docs", Transport: MCPTransport{Type: "https", Endpoint: "https://docs.example/mcp", Protocol: "sse"}, Tools: ToolFilter{Mode: "deny", List: []string{"x"}}},
		},
		Secrets:      map[string]int64{EnvSecret("gh", "GITHUB_TOKEN"): 1, HeaderSecret("docs", "Authorization"): 1},
		SecretValues: map[string]string{EnvSecret("gh", "GITHUB_TOKEN"): "ghp-1", HeaderSecret("docs", "Authorization"): "Bearer d"}}
	store := SecretStore{}
	store.Remember(tbl)
	before := tbl.Digest()
	if err := store.Fill(tbl); err != nil {
		t.Fatal(err)
	}
	if e := tbl.MCPRoutes[0].Transport.Env; e["GITHUB_TOKEN"] != "ghp-1" || e["LOG"] != "info" {
		t.Fatalf("env %v", e)
	}
	if h := tbl.MCPRoutes[1].Transport.Headers; h["Authorization"] != "Bearer d" {
		t.Fatalf("headers %v", h)
	}
	if tbl.Digest() != before {
		t.Fatal("filling the backends' secrets changed the digest")
	}
	if tbl.SecretValues != nil {
		t.Fatal("values stay on the table after filling")
	}
}

func TestRenderRefusesUnusableProviderKeys(t *testing.T) {
	for name, key := range map[string]string{"empty": "", "dollar": "sk-ab$cd", "newline": "sk-abcd\n", "control": "sk-\x00abcd"} {
		tbl := hosted()
		tbl.LLM.OpenAI.APIKey = key
		_, err := Render(tbl)
		if err == nil || (key != "" && strings.Contains(err.Error(), key)) {
			t.Errorf("%s: %v", name, err)
		}
	}
	tbl := hosted()
	tbl.LLM.OpenAI.BaseURL = "https://${HOST}/v1"
	if err := tbl.Validate(); !errors.Is(err, ErrInvalid) {
		t.Errorf("base url with $: %v", err)
	}
}
