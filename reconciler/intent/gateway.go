package intent

import (
	"errors"
	"fmt"
	"net"

	"github.com/agentmesh/agentmesh/gateways"
)

// Gateway registers a running gateway: its kind, the identity its agent
// runs with, and the gateway's own settings.
type Gateway struct {
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	Identity     string `json:"identity"` // identity id of the gateway agent
	Organization string `json:"organization,omitempty"`
	Listen       string `json:"listen,omitempty"`         // llm: the gateway's loopback address
	LocalBaseURL string `json:"local_base_url,omitempty"` // llm: OpenAI-compatible local upstream
	// Hosted providers (open_ai, anthropic). Their API keys are write-only:
	// never stored here, only pushed to the agent, which keeps them.
	Hosted         []HostedProvider `json:"hosted,omitempty"`
	SecretsVersion int64            `json:"secrets_version,omitempty"`
	// MCP aggregator settings.
	MCP *MCPAggregator `json:"mcp,omitempty"`
	// llm: the address every audience identity's tunneller intercepts
	// (each sees only its own data-plane service, all carry this address).
	InterceptAddress string `json:"intercept_address,omitempty"`
	InterceptPort    int64  `json:"intercept_port,omitempty"`
	// llm: embedding routing of `auto` requests, and the route that takes
	// what nothing else matched.
	Semantic     *SemanticRouting `json:"semantic,omitempty"`
	DefaultRoute string           `json:"default_route,omitempty"`
}

// SemanticRouting is the embedding router of an llm gateway.
type SemanticRouting struct {
	Provider  string  `json:"provider"` // local | openai
	Model     string  `json:"model"`
	Threshold float64 `json:"threshold,omitempty"`
}

// DataPlaneIntercept is the data plane's tunneller address, nil when none.
func (g *Gateway) DataPlaneIntercept() *Intercept {
	if g.InterceptAddress == "" {
		return nil
	}
	return &Intercept{Protocols: []string{"tcp"}, Addresses: []string{g.InterceptAddress}, Port: g.InterceptPort}
}

// MCPAggregator is an mcp gateway's own settings.
type MCPAggregator struct {
	Name      string `json:"name,omitempty"`
	Version   string `json:"version,omitempty"`
	Separator string `json:"separator,omitempty"`
	// ShareTokenSet says a reserved share token is configured. The token
	// is write-only: it travels to the agent in a push, versioned by the
	// gateway's SecretsVersion, and is never stored here.
	ShareTokenSet     bool   `json:"share_token_set,omitempty"`
	HeartbeatInterval string `json:"heartbeat_interval,omitempty"`
	ConnectTimeout    string `json:"connect_timeout,omitempty"`
	CallTimeout       string `json:"call_timeout,omitempty"`
}

// Validate checks the settings as mcp-gateway will read them.
func (a *MCPAggregator) Validate() error {
	return (&gateways.Table{Kind: gateways.KindMCP, MCP: a.Settings()}).ValidateSettings()
}

// Settings are the aggregator settings as the table carries them; the
// heartbeat defaults to 10s (mcp-gateway v0.1.3 panics on 0).
func (a *MCPAggregator) Settings() *gateways.MCPSettings {
	s := &gateways.MCPSettings{HeartbeatInterval: "10s"}
	if a != nil {
		s.Name, s.Version, s.Separator = a.Name, a.Version, a.Separator
		s.ConnectTimeout, s.CallTimeout = a.ConnectTimeout, a.CallTimeout
		if a.HeartbeatInterval != "" {
			s.HeartbeatInterval = a.HeartbeatInterval
		}
	}
	return s
}

// HostedProvider is a hosted LLM provider the gateway sends models to.
type HostedProvider struct {
	Provider string `json:"provider"` // open_ai | anthropic
	BaseURL  string `json:"base_url,omitempty"`
}

// LLMSettings are the registration's settings as a table carries them.
func (g *Gateway) LLMSettings() *gateways.LLMSettings {
	s := &gateways.LLMSettings{Listen: g.Listen, OpenAI: g.HostedCreds("open_ai"), Anthropic: g.HostedCreds("anthropic")}
	if g.LocalBaseURL != "" {
		s.Local = &gateways.LocalProvider{BaseURL: g.LocalBaseURL}
	}
	if sr := g.Semantic; sr != nil {
		s.Semantic = &gateways.SemanticRouting{Provider: sr.Provider, Model: sr.Model, Threshold: sr.Threshold}
	}
	return s
}

// HostedCreds returns the gateway's settings for a hosted provider, nil when
// it does not configure it.
func (g *Gateway) HostedCreds(provider string) *gateways.ProviderCreds {
	for _, h := range g.Hosted {
		if h.Provider == provider {
			return &gateways.ProviderCreds{BaseURL: h.BaseURL}
		}
	}
	return nil
}

// MCPRoute is one MCP backend of an MCP gateway and who may use it.
type MCPRoute struct {
	Gateway    string            `json:"gateway"`
	Namespace  string            `json:"namespace"`
	Type       string            `json:"type"` // stdio | http | https | zrok
	Command    string            `json:"command,omitempty"`
	Args       []string          `json:"args,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	WorkingDir string            `json:"working_dir,omitempty"`
	Endpoint   string            `json:"endpoint,omitempty"`
	Protocol   string            `json:"protocol,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	// AllowInsecure: an http transport may use a plain http:// endpoint.
	AllowInsecure bool `json:"allow_insecure,omitempty"`
	// TLS of an https transport.
	TLSInsecureSkipVerify bool   `json:"tls_insecure_skip_verify,omitempty"`
	TLSCACertFile         string `json:"tls_ca_cert_file,omitempty"`
	// Names of the write-only env variables and headers, and whether a
	// zrok backend's share token is set; their values only travel to the
	// agent in a push.
	SecretEnv        []string `json:"secret_env,omitempty"`
	SecretHeaders    []string `json:"secret_headers,omitempty"`
	SecretShareToken bool     `json:"secret_share_token,omitempty"`
	SecretsVersion   int64    `json:"secrets_version,omitempty"`
	ToolsMode        string   `json:"tools_mode"`
	Tools            []string `json:"tools,omitempty"`
	Workgroups       []string `json:"workgroups,omitempty"`
	Identities       []string `json:"identities,omitempty"`
}

// LLMRoute is one route of an LLM gateway and who may use it.
type LLMRoute struct {
	Gateway      string   `json:"gateway"`
	Name         string   `json:"name"`
	Model        string   `json:"model"`
	Description  string   `json:"description,omitempty"`
	Examples     []string `json:"examples,omitempty"`
	Workgroups   []string `json:"workgroups,omitempty"`
	Identities   []string `json:"identities,omitempty"` // identity ids
	BudgetTokens int64    `json:"budget_tokens,omitempty"`
	BudgetPeriod string   `json:"budget_period,omitempty"`
	// Heuristics send `auto` requests whose messages hold a keyword (and
	// none of the exclusions) to this route.
	Heuristics []Heuristic `json:"heuristics,omitempty"`
}

// Heuristic is one keyword rule of an LLM route.
type Heuristic struct {
	Keywords []string `json:"keywords"`
	Exclude  []string `json:"exclude,omitempty"`
}

// Validate checks a gateway registration.
func (g *Gateway) Validate() error {
	var f FieldErrs
	f.Add("name", ValidateWorkgroupName(g.Name))
	f.Add("kind", oneOf(g.Kind, []string{gateways.KindLLM, gateways.KindMCP}))
	if g.Identity == "" {
		f.Add("identity", errors.New("must not be empty"))
	}
	if g.Kind == gateways.KindLLM {
		if host, _, err := net.SplitHostPort(g.Listen); err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
			f.Add("listen", fmt.Errorf("%q must be a loopback host:port: the gateway must have no reachable port", g.Listen))
		}
	}
	seen := map[string]bool{}
	for _, h := range g.Hosted {
		if h.Provider != "open_ai" && h.Provider != "anthropic" {
			f.Add("hosted", fmt.Errorf("provider %q is not open_ai or anthropic", h.Provider))
		}
		if seen[h.Provider] {
			f.Add("hosted", fmt.Errorf("provider %q is configured twice", h.Provider))
		}
		seen[h.Provider] = true
	}
	if len(g.Hosted) > 0 && g.Kind != gateways.KindLLM {
		f.Add("hosted", errors.New("hosted providers belong to llm gateways"))
	}
	if g.InterceptAddress != "" {
		if g.Kind != gateways.KindLLM {
			f.Add("intercept_address", errors.New("an mcp gateway's data plane is dialed with an SDK; only llm gateways are intercepted"))
		}
		f.Add("intercept_address", validAddress(g.InterceptAddress))
		f.Add("intercept_port", validPort(g.InterceptPort))
	}
	if g.Semantic != nil && g.Kind != gateways.KindLLM {
		f.Add("semantic", errors.New("semantic routing belongs to llm gateways"))
	}
	if g.Kind == gateways.KindLLM {
		f.Add("settings", g.LLMSettings().Check(g.Name))
	}
	if g.DefaultRoute != "" && g.Kind != gateways.KindLLM {
		f.Add("default_route", errors.New("belongs to llm gateways"))
	}
	if g.MCP != nil {
		if g.Kind != gateways.KindMCP {
			f.Add("mcp", errors.New("aggregator settings belong to mcp gateways"))
		}
		f.Add("mcp", g.MCP.Validate())
	}
	return f.Err()
}

// ValidateSecrets refuses a secret that is also a plain value, or a name
// the gateway's config cannot hold.
func (v *MCPRoute) ValidateSecrets() error {
	var f FieldErrs
	for _, h := range v.SecretHeaders {
		if _, ok := v.Headers[h]; ok {
			f.Add("secret_headers", fmt.Errorf("header %q is also set in headers; give it in one place", h))
		}
		if v.Type != "http" && v.Type != "https" {
			f.Add("secret_headers", fmt.Errorf("a %s transport sends no headers", v.Type))
		}
	}
	for _, n := range v.SecretEnv {
		if _, ok := v.Env[n]; ok {
			f.Add("secret_env", fmt.Errorf("variable %q is also set in env; give it in one place", n))
		}
		if v.Type != "stdio" {
			f.Add("secret_env", fmt.Errorf("a %s transport has no environment", v.Type))
		}
	}
	if v.SecretShareToken && v.Type != "zrok" {
		f.Add("share_token_wo", fmt.Errorf("only a zrok transport has a share token, not %s", v.Type))
	}
	if v.Type == "zrok" && !v.SecretShareToken {
		f.Add("share_token_wo", errors.New("a zrok transport needs the backend's share token"))
	}
	return f.Err()
}

// SecretVersions names the route's write-only values with their version.
func (v *MCPRoute) SecretVersions() map[string]int64 {
	out := map[string]int64{}
	for _, h := range v.SecretHeaders {
		out[gateways.HeaderSecret(v.Namespace, h)] = v.SecretsVersion
	}
	for _, n := range v.SecretEnv {
		out[gateways.EnvSecret(v.Namespace, n)] = v.SecretsVersion
	}
	if v.SecretShareToken {
		out[gateways.ShareTokenSecret(v.Namespace)] = v.SecretsVersion
	}
	return out
}

// WithSecret adds a secret name with its version to a table's secrets.
func WithSecret(m map[string]int64, name string, version int64) map[string]int64 {
	if m == nil {
		m = map[string]int64{}
	}
	m[name] = version
	return m
}

// ProviderSecret names a hosted provider's API key among a table's secrets.
func ProviderSecret(provider string) string {
	if provider == "anthropic" {
		return gateways.SecretAnthropicKey
	}
	return gateways.SecretOpenAIKey
}

// GatewayRoute is the route as a table carries it.
func (v MCPRoute) GatewayRoute() gateways.MCPRoute {
	tr := gateways.MCPTransport{Type: v.Type, Command: v.Command, Args: v.Args, Env: v.Env, WorkingDir: v.WorkingDir,
		Endpoint: v.Endpoint, Protocol: v.Protocol, Headers: v.Headers, AllowInsecure: v.AllowInsecure}
	if v.TLSInsecureSkipVerify || v.TLSCACertFile != "" {
		tr.TLS = &gateways.MCPTLS{InsecureSkipVerify: v.TLSInsecureSkipVerify, CACertFile: v.TLSCACertFile}
	}
	return gateways.MCPRoute{Namespace: v.Namespace, Transport: tr,
		Tools:    gateways.ToolFilter{Mode: v.ToolsMode, List: v.Tools},
		Audience: gateways.Audience{Workgroups: v.Workgroups, Identities: v.Identities}}
}
