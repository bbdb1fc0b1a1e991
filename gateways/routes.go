// Package gateways holds what agentmesh pushes to running AI gateways: the
// versioned route table, its validation against what each target gateway
// can enforce, and one renderer per gateway kind that turns a table into
// the gateway's native YAML, written atomically with mode 0600.
package gateways

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kinds of gateway agentmesh drives.
const (
	KindLLM = "llm" // openziti/llm-gateway v0.1.x
	KindMCP = "mcp" // openziti/mcp-gateway v0.1.x
)

// ErrUnsupported marks intent the target gateway cannot enforce; it is
// reported at plan time, never silently dropped.
var ErrUnsupported = errors.New("the target gateway cannot enforce this")

// ErrInvalid marks a malformed table.
var ErrInvalid = errors.New("invalid route table")

// Report is what a gateway agent answers to a pushed table.
type Report struct {
	Generation   int64  `json:"generation"`
	ConfigSHA256 string `json:"config_sha256"`
	// Status is applied, rejected (the table is invalid; nothing changed)
	// or rolled-back (the new config did not come up healthy; the last
	// good one runs again).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// TableDigest identifies the table behind the running config, so the
	// reconciler can tell whether a gateway (say, restarted) has drifted.
	TableDigest string `json:"table_digest,omitempty"`
	// Warnings are what the agent found wrong with an applied table that
	// does not stop it running: route tool patterns the backend does not
	// have, or an mcp gateway served without its front.
	Warnings []string `json:"warnings,omitempty"`
	// Usage is each identity's consumption in its current budget period
	// (status answers only).
	Usage []Usage `json:"usage,omitempty"`
}

// Usage is one identity's consumption through an LLM gateway.
type Usage struct {
	Identity    string    `json:"identity"`
	Tokens      int64     `json:"tokens"`
	Requests    int64     `json:"requests"`
	PeriodStart time.Time `json:"period_start"`
}

// Table is one gateway's complete, versioned configuration.
type Table struct {
	Gateway    string
	Kind       string
	Generation int64
	LLM        *LLMSettings
	MCP        *MCPSettings
	LLMRoutes  []LLMRoute
	MCPRoutes  []MCPRoute
	// Members are the identities the gateway serves, resolved by the
	// reconciler from the routes' audiences.
	Members []Member
	// Keys are the per-identity virtual keys. The agent generates and
	// fills them on the gateway host; a pushed table never carries them.
	Keys []VirtualKey `json:"-"`
	// Secrets names each write-only value the rendered config needs
	// (provider API keys, MCP header and env secrets) with the version
	// the intent asks for. Only the push of the apply that sets a secret
	// carries its value (SecretValues); the agent keeps it in its 0600
	// state, so later pushes (other routes, reconcile) carry names only.
	Secrets      map[string]int64  `json:",omitempty"`
	SecretValues map[string]string `json:",omitempty"`
}

// Member is one identity's access to a gateway.
type Member struct {
	Identity      string // identity name
	Service       string // its own data-plane service
	AllowedModels []string
	Budget        *Budget
	// Namespaces are, on an mcp gateway, the routes (by namespace) whose
	// tools the identity may list and call.
	Namespaces []string `json:",omitempty"`
}

// Audience is who a route serves.
type Audience struct {
	Workgroups []string
	Identities []string
}

// LLMSettings are the llm-gateway's own settings.
type LLMSettings struct {
	Listen    string // loopback address the gateway listens on
	OpenAI    *ProviderCreds
	Anthropic *ProviderCreds
	Local     *LocalProvider
	// Semantic turns on embedding-based routing of `auto` requests over
	// the routes' descriptions and examples.
	Semantic *SemanticRouting
	// DefaultRoute takes `auto` requests nothing else matched (else the
	// first route does).
	DefaultRoute string
}

// SemanticRouting is llm-gateway's embedding router.
type SemanticRouting struct {
	Provider  string  // local | openai: who computes the embeddings
	Model     string  // the embedding model
	Threshold float64 // similarity needed to pick a route; 0 = the gateway's default
}

// ProviderCreds configure a hosted provider.
type ProviderCreds struct {
	APIKey  string
	BaseURL string
}

// LocalProvider is an OpenAI-compatible local upstream (e.g. Ollama).
type LocalProvider struct {
	BaseURL   string
	Endpoints []LocalEndpoint
}

// LocalEndpoint is one weighted local upstream.
type LocalEndpoint struct {
	Name    string
	BaseURL string
	Weight  int
}

// LLMRoute is one semantic route to a model.
type LLMRoute struct {
	Name        string
	Model       string
	Description string
	Examples    []string
	Heuristics  []Heuristic
	Audience    Audience
	Budget      *Budget
}

// Heuristic routes requests by keywords.
type Heuristic struct {
	Keywords []string
	Exclude  []string
}

// Budget is a token allowance per identity and period. The gateway has
// none; agentmesh's data-plane front enforces it.
type Budget struct {
	Tokens int64
	Period string // hour | day | month
}

// VirtualKey is one identity's key on one gateway.
type VirtualKey struct {
	Identity      string
	Key           string
	AllowedModels []string
}

// MCPSettings are the mcp-gateway's aggregator settings.
type MCPSettings struct {
	Name      string
	Version   string
	Separator string
	// ShareToken is the reserved zrok share the gateway serves on. It is
	// write-only: the agent fills it from what it was delivered
	// (SecretMCPShareToken).
	ShareToken        string
	HeartbeatInterval string // e.g. 10s; 0 crashes mcp-gateway v0.1.3
	// ConnectTimeout and CallTimeout bound connecting to a backend and one
	// tool call (Go durations; empty: the gateway's 30s and 60s).
	ConnectTimeout string
	CallTimeout    string
}

// MCPRoute is one MCP backend, exposed under its namespace.
type MCPRoute struct {
	Namespace string
	Transport MCPTransport
	Tools     ToolFilter
	Audience  Audience
}

// MCPTransport says how the gateway reaches a backend.
type MCPTransport struct {
	Type       string // stdio | http | https | zrok
	Command    string
	Args       []string
	Env        map[string]string
	WorkingDir string
	Endpoint   string
	Protocol   string // sse | streamable
	Headers    map[string]string
	// AllowInsecure lets an http transport use a plain http:// endpoint,
	// which mcp-gateway refuses without it.
	AllowInsecure bool
	TLS           *MCPTLS // https only
	// ShareToken is a zrok backend's share; write-only, filled by the
	// agent (ShareTokenSecret).
	ShareToken string
}

// MCPTLS are an https backend's TLS settings.
type MCPTLS struct {
	InsecureSkipVerify bool
	CACertFile         string
}

// transportFields are the fields each MCP transport type reads.
var transportFields = map[string][]string{
	"stdio": {"command", "args", "env", "working_dir"},
	"http":  {"endpoint", "protocol", "headers", "allow_insecure"},
	"https": {"endpoint", "protocol", "headers", "tls"},
	"zrok":  {"share_token"},
}

// ToolFilter selects a backend's tools.
type ToolFilter struct {
	Mode string // allow | deny
	List []string
}

// Digest identifies the table's content, whatever its generation. Keys
// and secret values are not part of it: a table that carries a secret
// and the same table naming it digest alike.
func (t *Table) Digest() string {
	b, _ := json.Marshal(t)
	var c Table
	_ = json.Unmarshal(b, &c)
	c.Generation = 0
	c.SecretValues = nil
	c.stripSecrets()
	b, _ = json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ProviderFor is llm-gateway's fixed model-to-provider rule.
func ProviderFor(model string) string {
	switch {
	case strings.HasPrefix(model, "gpt-"), strings.HasPrefix(model, "o1-"), strings.HasPrefix(model, "o3-"):
		return "open_ai"
	case strings.HasPrefix(model, "claude-"):
		return "anthropic"
	}
	return "local"
}

// Validate checks a table against what its target can do. Every problem
// is reported, each naming the route and the field.
func (t *Table) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch t.Kind {
	case KindLLM:
		if t.LLM == nil {
			add("%w: gateway %q: llm settings are missing", ErrInvalid, t.Gateway)
			break
		}
		if err := t.LLM.Check(t.Gateway); err != nil {
			errs = append(errs, err)
		}
		seen := map[string]bool{}
		for _, r := range t.LLMRoutes {
			if err := validText(r.Name); err != nil {
				add("%w: route %q: name %v", ErrInvalid, r.Name, err)
			}
			if err := validText(r.Model); err != nil {
				add("%w: route %q: model %v", ErrInvalid, r.Name, err)
			}
			if r.Description != "" {
				if err := validText(r.Description); err != nil {
					add("%w: route %q: description %v", ErrInvalid, r.Name, err)
				}
			}
			for _, ex := range r.Examples {
				if err := validText(ex); err != nil {
					add("%w: route %q: example %v", ErrInvalid, r.Name, err)
				}
			}
			for _, h := range r.Heuristics {
				if len(h.Keywords) == 0 {
					// An empty match would take every auto request.
					add("%w: route %q: a heuristic rule needs at least one keyword", ErrInvalid, r.Name)
				}
				for _, k := range append(slices.Clone(h.Keywords), h.Exclude...) {
					if err := validText(k); err != nil {
						add("%w: route %q: heuristic keyword %v", ErrInvalid, r.Name, err)
					}
				}
			}
			if seen[r.Name] {
				add("%w: route %q is declared twice", ErrInvalid, r.Name)
			}
			seen[r.Name] = true
			if p := ProviderFor(r.Model); !t.LLM.has(p) {
				add("%w: route %q: llm-gateway sends model %q to provider %s, which this gateway does not configure", ErrUnsupported, r.Name, r.Model, p)
			}
			if b := r.Budget; b != nil && (b.Tokens <= 0 || !slices.Contains([]string{"hour", "day", "month"}, b.Period)) {
				add("%w: route %q: budget needs tokens > 0 and a period of hour, day or month", ErrInvalid, r.Name)
			}
		}
		if d := t.LLM.DefaultRoute; d != "" && !seen[d] {
			add("%w: gateway %q: default route %q is not one of its routes", ErrInvalid, t.Gateway, d)
		}
		for _, k := range t.Keys {
			for _, m := range k.AllowedModels {
				if _, err := path.Match(m, ""); err != nil {
					add("%w: key of %s: allowed model pattern %q: %v", ErrInvalid, k.Identity, m, err)
				}
			}
		}
	case KindMCP:
		if err := t.ValidateSettings(); err != nil {
			errs = append(errs, err)
		}
		seen := map[string]bool{}
		for _, r := range t.MCPRoutes {
			if err := validText(r.Namespace); err != nil {
				add("%w: route namespace %v", ErrInvalid, err)
			}
			if seen[r.Namespace] {
				add("%w: namespace %q is used twice on gateway %q; mcp-gateway needs unique backend ids", ErrInvalid, r.Namespace, t.Gateway)
			}
			seen[r.Namespace] = true
			switch {
			case r.Tools.Mode != "allow" && r.Tools.Mode != "deny":
				add("%w: route %q: tools.mode must be allow or deny", ErrInvalid, r.Namespace)
			case r.Tools.Mode == "allow" && len(r.Tools.List) == 0:
				add("%w: route %q: an empty allow list exposes every tool on mcp-gateway; list the tools to allow, or leave the backend out", ErrUnsupported, r.Namespace)
			case r.Tools.Mode == "deny" && slices.Contains(r.Tools.List, "*"):
				add("%w: route %q: mcp-gateway cannot deny every tool; leave the backend out instead", ErrUnsupported, r.Namespace)
			}
			for _, p := range r.Tools.List {
				if err := validText(p); err != nil {
					add("%w: route %q: tool pattern %v", ErrInvalid, r.Namespace, err)
				}
				if _, err := path.Match(p, ""); err != nil {
					add("%w: route %q: tool pattern %q: %v", ErrInvalid, r.Namespace, p, err)
				}
			}
			_, tokenSecret := t.Secrets[ShareTokenSecret(r.Namespace)]
			if err := r.Transport.validate(tokenSecret); err != nil {
				add("%w: route %q: %v", ErrInvalid, r.Namespace, err)
			}
		}
	default:
		add("%w: unknown gateway kind %q", ErrInvalid, t.Kind)
	}
	return errors.Join(errs...)
}

// Check validates an llm gateway's own settings, routes aside: the hosted
// providers' base URLs and semantic routing. The reconciler checks a
// registration with it before anything is written.
func (s *LLMSettings) Check(gateway string) error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for name, p := range map[string]*ProviderCreds{"open_ai": s.OpenAI, "anthropic": s.Anthropic} {
		if p != nil && strings.Contains(p.BaseURL, "$") {
			add("%w: provider %s: base_url %q contains '$', which llm-gateway expands as an environment variable", ErrInvalid, name, p.BaseURL)
		}
		if p != nil {
			if err := checkBaseURL(name, p.BaseURL); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if s.Local != nil {
		if err := checkBaseURL("local", s.Local.BaseURL); err != nil {
			errs = append(errs, err)
		}
	}
	if sr := s.Semantic; sr != nil {
		switch {
		case sr.Provider != "local" && sr.Provider != "openai":
			add("%w: gateway %q: semantic routing provider %q must be local or openai", ErrInvalid, gateway, sr.Provider)
		case sr.Provider == "openai" && s.OpenAI == nil, sr.Provider == "local" && s.Local == nil:
			add("%w: gateway %q: semantic routing computes embeddings with the %s provider, which this gateway does not configure", ErrUnsupported, gateway, sr.Provider)
		}
		if err := validText(sr.Model); err != nil {
			add("%w: gateway %q: semantic routing model %w", ErrInvalid, gateway, err)
		}
		if sr.Threshold < 0 || sr.Threshold > 1 {
			add("%w: gateway %q: semantic routing threshold %v must be between 0 and 1", ErrInvalid, gateway, sr.Threshold)
		}
	}
	return errors.Join(errs...)
}

// checkBaseURL refuses a provider base URL that ends in /v1: llm-gateway
// v0.1.4 appends /v1/chat/completions (/v1/messages for anthropic) itself,
// so such a URL would reach .../v1/v1/... and every request would fail.
func checkBaseURL(provider, u string) error {
	if t := strings.TrimSuffix(u, "/"); strings.HasSuffix(t, "/v1") {
		return fmt.Errorf("%w: provider %s: base_url %q ends in /v1, but llm-gateway appends /v1/... itself; use %q", ErrInvalid, provider, u, strings.TrimSuffix(t, "/v1"))
	}
	return nil
}

// ValidateSettings checks an mcp gateway's aggregator settings alone,
// before any route exists.
func (t *Table) ValidateSettings() error {
	if t.MCP == nil {
		return nil
	}
	var errs []error
	if h := t.MCP.HeartbeatInterval; h != "" {
		if d, err := time.ParseDuration(h); err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%w: gateway %q: heartbeat interval %q must be a positive duration such as 10s (0 crashes mcp-gateway)", ErrInvalid, t.Gateway, h))
		}
	}
	for name, v := range map[string]string{"connect timeout": t.MCP.ConnectTimeout, "call timeout": t.MCP.CallTimeout} {
		if d, err := time.ParseDuration(v); v != "" && (err != nil || d <= 0) {
			errs = append(errs, fmt.Errorf("%w: gateway %q: %s %q must be a positive duration such as 30s", ErrInvalid, t.Gateway, name, v))
		}
	}
	for name, v := range map[string]string{"name": t.MCP.Name, "version": t.MCP.Version, "separator": t.MCP.Separator} {
		if v != "" {
			if err := validText(v); err != nil {
				errs = append(errs, fmt.Errorf("%w: gateway %q: aggregator %s %w", ErrInvalid, t.Gateway, name, err))
			}
		}
	}
	if v := t.MCP.ShareToken; v != "" && !validSecret(v) {
		errs = append(errs, fmt.Errorf("%w: gateway %q: the share token has surrounding white space or control characters", ErrInvalid, t.Gateway))
	}
	return errors.Join(errs...)
}

// validText checks a name the gateway matches on: non-empty, trimmed,
// printable.
func validText(s string) error {
	if strings.TrimSpace(s) == "" || strings.TrimSpace(s) != s || !utf8.ValidString(s) {
		return fmt.Errorf("%q must be non-empty UTF-8 without surrounding white space", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("%q must not contain control or format characters", s)
		}
	}
	return nil
}

// validSecret is validText for a value that must never be quoted back.
func validSecret(s string) bool { return validText(s) == nil }

func (s *LLMSettings) has(provider string) bool {
	switch provider {
	case "open_ai":
		return s.OpenAI != nil
	case "anthropic":
		return s.Anthropic != nil
	}
	return s.Local != nil
}

// validate checks a transport as mcp-gateway's loader does, and more: a
// field of another transport type is refused. tokenSecret says the zrok
// share token is a write-only value the agent fills in.
func (t MCPTransport) validate(tokenSecret bool) error {
	// Fields of another transport type would be written and silently
	// ignored by the gateway; refuse them so the intent says what runs.
	var foreign []string
	for field, set := range map[string]bool{
		"command": t.Command != "", "args": len(t.Args) > 0, "env": len(t.Env) > 0, "working_dir": t.WorkingDir != "",
		"endpoint": t.Endpoint != "", "protocol": t.Protocol != "", "headers": len(t.Headers) > 0, "share_token": t.ShareToken != "" || tokenSecret,
		"allow_insecure": t.AllowInsecure, "tls": t.TLS != nil,
	} {
		if set && !slices.Contains(transportFields[t.Type], field) {
			foreign = append(foreign, field)
		}
	}
	if len(foreign) > 0 && transportFields[t.Type] != nil {
		slices.Sort(foreign)
		return fmt.Errorf("%s transport does not use %s", t.Type, strings.Join(foreign, ", "))
	}
	var caFile string
	if t.TLS != nil {
		caFile = t.TLS.CACertFile
	}
	for field, v := range map[string]string{"command": t.Command, "working_dir": t.WorkingDir, "endpoint": t.Endpoint, "tls ca_cert_file": caFile} {
		if v != "" {
			if err := validText(v); err != nil {
				return fmt.Errorf("%s %w", field, err)
			}
		}
	}
	if t.ShareToken != "" && !validSecret(t.ShareToken) {
		return errors.New("the share token has surrounding white space or control characters")
	}
	switch t.Type {
	case "stdio":
		if t.Command == "" {
			return errors.New("stdio transport needs a command")
		}
	case "http", "https":
		u, err := url.Parse(t.Endpoint)
		if err != nil || u.Scheme != t.Type || u.Host == "" {
			return fmt.Errorf("%s transport needs an endpoint URL starting with %s:// and naming a host", t.Type, t.Type)
		}
		if t.Protocol != "sse" && t.Protocol != "streamable" {
			return errors.New("http transports need protocol sse or streamable")
		}
		if t.Type == "http" && !t.AllowInsecure {
			return errors.New("an http:// endpoint is sent in the clear; mcp-gateway refuses it unless allow_insecure is true: set allow_insecure = true, or use https")
		}
		if t.TLS != nil && t.TLS.InsecureSkipVerify && t.TLS.CACertFile != "" {
			return errors.New("tls: insecure_skip_verify ignores ca_cert_file; set one of them")
		}
	case "zrok":
		if t.ShareToken == "" && !tokenSecret {
			return errors.New("zrok transport needs a share token (share_token_wo)")
		}
	default:
		return fmt.Errorf("transport type %q is not one of stdio, http, https, zrok", t.Type)
	}
	return nil
}
