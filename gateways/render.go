package gateways

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Rendered is a gateway's native configuration file.
type Rendered struct {
	YAML []byte
	// SHA256 identifies the content; agents report it so drift (a
	// restarted or hand-edited gateway) is visible.
	SHA256 string
}

// Render validates the table and renders it for its gateway kind.
func Render(t *Table) (*Rendered, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	var doc any
	switch t.Kind {
	case KindLLM:
		if err := t.LLM.keysPresent(); err != nil {
			return nil, err
		}
		doc = renderLLM(t)
	case KindMCP:
		doc = renderMCP(t)
	}
	var buf bytes.Buffer
	// The generation stays out of the file: the same routes give the same
	// bytes and hash, so re-pushing them restarts nothing.
	fmt.Fprintf(&buf, "# Rendered by agentmesh for gateway %q. Do not edit: agentmesh rewrites it.\n", t.Gateway)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(buf.Bytes())
	return &Rendered{YAML: buf.Bytes(), SHA256: hex.EncodeToString(sum[:])}, nil
}

// llm-gateway v0.1.x schema, as the renderer writes it.
type (
	llmConfig struct {
		Listen    string       `yaml:"listen"`
		Providers llmProviders `yaml:"providers"`
		Routing   *llmRouting  `yaml:"routing,omitempty"`
		APIKeys   llmAPIKeys   `yaml:"api_keys"`
		Metrics   llmMetrics   `yaml:"metrics"`
	}
	llmProviders struct {
		OpenAI    *llmHosted `yaml:"open_ai,omitempty"`
		Anthropic *llmHosted `yaml:"anthropic,omitempty"`
		Local     *llmLocal  `yaml:"local,omitempty"`
	}
	llmHosted struct {
		APIKey  string `yaml:"api_key"`
		BaseURL string `yaml:"base_url,omitempty"`
	}
	llmLocal struct {
		BaseURL   string        `yaml:"base_url,omitempty"`
		Endpoints []llmEndpoint `yaml:"endpoints,omitempty"`
	}
	llmEndpoint struct {
		Name    string `yaml:"name"`
		BaseURL string `yaml:"base_url"`
		Weight  int    `yaml:"weight,omitempty"`
	}
	llmRouting struct {
		AllowExplicitModel bool           `yaml:"allow_explicit_model"`
		DefaultRoute       string         `yaml:"default_route,omitempty"`
		Heuristics         *llmHeuristics `yaml:"heuristics,omitempty"`
		Semantic           *llmSemantic   `yaml:"semantic,omitempty"`
		Routes             []llmRoute     `yaml:"routes"`
	}
	llmSemantic struct {
		Enabled   bool    `yaml:"enabled"`
		Provider  string  `yaml:"provider"`
		Model     string  `yaml:"model"`
		Threshold float64 `yaml:"threshold,omitempty"`
	}
	llmHeuristics struct {
		Enabled bool      `yaml:"enabled"`
		Rules   []llmRule `yaml:"rules"`
	}
	llmRule struct {
		Match llmMatch `yaml:"match"`
		Route string   `yaml:"route"`
	}
	llmMatch struct {
		Keywords []string `yaml:"keywords,omitempty"`
		Exclude  []string `yaml:"exclude,omitempty"`
	}
	llmRoute struct {
		Name        string   `yaml:"name"`
		Model       string   `yaml:"model"`
		Description string   `yaml:"description,omitempty"`
		Examples    []string `yaml:"examples,omitempty"`
	}
	llmAPIKeys struct {
		Enabled bool     `yaml:"enabled"`
		Keys    []llmKey `yaml:"keys"`
	}
	llmKey struct {
		Name string `yaml:"name"`
		Key  string `yaml:"key"`
		// allowed_routes is never written: v0.1.4 wrongly rejects
		// explicit-model requests with it when routing is on.
		AllowedModels []string `yaml:"allowed_models"`
	}
	llmMetrics struct {
		Enabled bool `yaml:"enabled"`
	}
)

func renderLLM(t *Table) *llmConfig {
	s := t.LLM
	c := &llmConfig{Listen: s.Listen, Metrics: llmMetrics{Enabled: true}, APIKeys: llmAPIKeys{Enabled: true, Keys: []llmKey{}}}
	if s.OpenAI != nil {
		c.Providers.OpenAI = &llmHosted{APIKey: s.OpenAI.APIKey, BaseURL: s.OpenAI.BaseURL}
	}
	if s.Anthropic != nil {
		c.Providers.Anthropic = &llmHosted{APIKey: s.Anthropic.APIKey, BaseURL: s.Anthropic.BaseURL}
	}
	if s.Local != nil {
		c.Providers.Local = &llmLocal{BaseURL: s.Local.BaseURL}
		for _, e := range s.Local.Endpoints {
			c.Providers.Local.Endpoints = append(c.Providers.Local.Endpoints, llmEndpoint(e))
		}
	}
	if len(t.LLMRoutes) > 0 {
		c.Routing = &llmRouting{AllowExplicitModel: true, DefaultRoute: s.DefaultRoute}
		if sr := s.Semantic; sr != nil {
			c.Routing.Semantic = &llmSemantic{Enabled: true, Provider: sr.Provider, Model: sr.Model, Threshold: sr.Threshold}
		}
		var rules []llmRule
		for _, r := range t.LLMRoutes {
			c.Routing.Routes = append(c.Routing.Routes, llmRoute{Name: r.Name, Model: r.Model, Description: r.Description, Examples: r.Examples})
			for _, h := range r.Heuristics {
				rules = append(rules, llmRule{Match: llmMatch(h), Route: r.Name})
			}
		}
		if len(rules) > 0 {
			c.Routing.Heuristics = &llmHeuristics{Enabled: true, Rules: rules}
		}
	}
	keys := append([]VirtualKey(nil), t.Keys...)
	sort.Slice(keys, func(i, j int) bool { return keys[i].Identity < keys[j].Identity })
	for _, k := range keys {
		c.APIKeys.Keys = append(c.APIKeys.Keys, llmKey{Name: k.Identity, Key: k.Key, AllowedModels: k.AllowedModels})
	}
	return c
}

// mcp-gateway v0.1.x schema, as the renderer writes it.
type (
	mcpConfig struct {
		Aggregator   mcpAggregator    `yaml:"aggregator"`
		ShareToken   string           `yaml:"share_token,omitempty"`
		Orchestrator *mcpOrchestrator `yaml:"orchestrator,omitempty"`
		Backends     []mcpBackend     `yaml:"backends"`
	}
	mcpAggregator struct {
		Name       string         `yaml:"name"`
		Version    string         `yaml:"version,omitempty"`
		Separator  string         `yaml:"separator"`
		Connection *mcpConnection `yaml:"connection,omitempty"`
	}
	mcpOrchestrator struct {
		HeartbeatInterval string `yaml:"heartbeat_interval"`
	}
	mcpBackend struct {
		ID        string       `yaml:"id"`
		Name      string       `yaml:"name"`
		Transport mcpTransport `yaml:"transport"`
		Tools     mcpTools     `yaml:"tools"`
	}
	mcpTransport struct {
		Type       string     `yaml:"type"`
		Command    string     `yaml:"command,omitempty"`
		Args       quotedList `yaml:"args,omitempty"`
		Env        quotedMap  `yaml:"env,omitempty"`
		WorkingDir string     `yaml:"working_dir,omitempty"`
		Endpoint   string     `yaml:"endpoint,omitempty"`
		Protocol   string     `yaml:"protocol,omitempty"`
		Headers    quotedMap  `yaml:"headers,omitempty"`
		// AllowInsecure is written only for http, where the loader reads it.
		AllowInsecure bool    `yaml:"allow_insecure,omitempty"`
		TLS           *mcpTLS `yaml:"tls,omitempty"`
		ShareToken    string  `yaml:"share_token,omitempty"`
	}
	mcpTLS struct {
		InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty"`
		CACertFile         string `yaml:"ca_cert_file,omitempty"`
	}
	mcpConnection struct {
		ConnectTimeout string `yaml:"connect_timeout,omitempty"`
		CallTimeout    string `yaml:"call_timeout,omitempty"`
	}
	mcpTools struct {
		Mode string   `yaml:"mode"`
		List []string `yaml:"list"`
	}
)

// quotedList writes its items double-quoted, like quotedMap.
type quotedList []string

func (l quotedList) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, v := range l {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: yaml.DoubleQuotedStyle})
	}
	return n, nil
}

// quotedMap writes its values double-quoted: env and header values (often
// secrets) may hold newlines or leading blanks that a plain or block
// scalar would not give back byte for byte.
type quotedMap map[string]string

func (m quotedMap) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		n.Content = append(n.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k, Style: yaml.DoubleQuotedStyle},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: m[k], Style: yaml.DoubleQuotedStyle})
	}
	return n, nil
}

func renderMCP(t *Table) *mcpConfig {
	c := &mcpConfig{Aggregator: mcpAggregator{Name: t.Gateway, Separator: "_"}}
	if s := t.MCP; s != nil {
		if s.Name != "" {
			c.Aggregator.Name = s.Name
		}
		c.Aggregator.Version = s.Version
		if s.Separator != "" {
			c.Aggregator.Separator = s.Separator
		}
		c.ShareToken = s.ShareToken
		if s.ConnectTimeout != "" || s.CallTimeout != "" {
			c.Aggregator.Connection = &mcpConnection{ConnectTimeout: s.ConnectTimeout, CallTimeout: s.CallTimeout}
		}
		if s.HeartbeatInterval != "" {
			c.Orchestrator = &mcpOrchestrator{HeartbeatInterval: s.HeartbeatInterval}
		}
	}
	for _, r := range t.MCPRoutes {
		tr := r.Transport
		b := mcpBackend{ID: r.Namespace, Name: r.Namespace, Tools: mcpTools(r.Tools), Transport: mcpTransport{
			Type: tr.Type, Command: tr.Command, Args: tr.Args, Env: tr.Env, WorkingDir: tr.WorkingDir,
			Endpoint: tr.Endpoint, Protocol: tr.Protocol, Headers: tr.Headers, AllowInsecure: tr.AllowInsecure, ShareToken: tr.ShareToken}}
		if tr.TLS != nil {
			b.Transport.TLS = &mcpTLS{InsecureSkipVerify: tr.TLS.InsecureSkipVerify, CACertFile: tr.TLS.CACertFile}
		}
		c.Backends = append(c.Backends, b)
	}
	return c
}

// WriteAtomic replaces path with data, mode 0600, so a gateway restarted
// at any moment reads either the old file or the new one, whole.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// keysPresent checks the hosted providers' keys once the agent has filled
// them in. llm-gateway leaves a provider without a key inactive, silently,
// and expands ${VAR} in it; neither may happen to a key we deliver. The
// error never quotes the key.
func (s *LLMSettings) keysPresent() error {
	for name, p := range map[string]*ProviderCreds{"open_ai": s.OpenAI, "anthropic": s.Anthropic} {
		switch {
		case p == nil:
		case p.APIKey == "":
			return fmt.Errorf("%w: provider %s has no api key; llm-gateway would leave it inactive", ErrSecretMissing, name)
		case strings.TrimSpace(p.APIKey) != p.APIKey || strings.ContainsFunc(p.APIKey, unicode.IsControl):
			return fmt.Errorf("%w: the api key of provider %s has surrounding white space or control characters", ErrInvalid, name)
		case strings.Contains(p.APIKey, "$"):
			return fmt.Errorf("%w: the api key of provider %s contains '$', which llm-gateway would expand as an environment variable", ErrInvalid, name)
		}
	}
	return nil
}
