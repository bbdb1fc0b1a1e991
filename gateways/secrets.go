package gateways

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrSecretMissing marks a table that needs a write-only value the agent
// was never given (or has lost): only a push from the apply that sets it
// carries it.
var ErrSecretMissing = errors.New("secret not delivered to the gateway agent")

// Names of the write-only values a table can need. They name a place in
// the rendered config, never a value.
const (
	SecretOpenAIKey    = "llm.open_ai.api_key"   //nolint:gosec // a name, not a credential
	SecretAnthropicKey = "llm.anthropic.api_key" //nolint:gosec // a name, not a credential
	// SecretMCPShareToken is an mcp gateway's reserved zrok share.
	SecretMCPShareToken = "mcp.share_token" //nolint:gosec // a name, not a credential
)

// ShareTokenSecret names the share token of a zrok MCP backend.
func ShareTokenSecret(namespace string) string { return "mcp." + namespace + ".share_token" }

// HeaderSecret names a secret HTTP header of an MCP backend.
func HeaderSecret(namespace, header string) string {
	return "mcp." + namespace + ".header." + header
}

// EnvSecret names a secret environment variable of a stdio MCP backend.
func EnvSecret(namespace, name string) string { return "mcp." + namespace + ".env." + name }

// SecretStore is the agent's memory of delivered secrets: name -> version
// and value. The agent keeps it on the gateway host with mode 0600.
type SecretStore map[string]StoredSecret

// StoredSecret is one delivered value with the version it was delivered as.
type StoredSecret struct {
	Version int64  `json:"version"`
	Value   string `json:"value"`
}

// Remember keeps the values this push carries and forgets secrets the
// table no longer names. It reports whether the store changed.
func (s SecretStore) Remember(t *Table) bool {
	changed := false
	for name, v := range t.SecretValues {
		if _, needed := t.Secrets[name]; !needed {
			continue
		}
		if old, ok := s[name]; !ok || old.Value != v || old.Version != t.Secrets[name] {
			s[name] = StoredSecret{Version: t.Secrets[name], Value: v}
			changed = true
		}
	}
	for name := range s {
		if _, ok := t.Secrets[name]; !ok {
			delete(s, name)
			changed = true
		}
	}
	return changed
}

// Fill puts every secret the table names into its place in the table,
// from the store. A secret the store lacks, or holds at an older version,
// is an error that says how to deliver it.
func (s SecretStore) Fill(t *Table) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(t.Secrets)) {
		want := t.Secrets[name]
		got, ok := s[name]
		if !ok || got.Version != want {
			errs = append(errs, fmt.Errorf("%w: %s (version %d; the agent holds %s). Apply the resource that sets it again with its secrets version raised, so the value travels in that push", ErrSecretMissing, name, want, holds(got, ok)))
			continue
		}
		if err := t.place(name, got.Value); err != nil {
			errs = append(errs, err)
		}
	}
	t.SecretValues = nil
	return errors.Join(errs...)
}

func holds(s StoredSecret, ok bool) string {
	if !ok {
		return "none"
	}
	return fmt.Sprintf("version %d", s.Version)
}

// place writes one secret value where its name says.
func (t *Table) place(name, value string) error {
	switch name {
	case SecretOpenAIKey, SecretAnthropicKey:
		if t.LLM == nil {
			return fmt.Errorf("%w: %s names a provider of an llm gateway", ErrInvalid, name)
		}
		p := t.LLM.OpenAI
		if name == SecretAnthropicKey {
			p = t.LLM.Anthropic
		}
		if p == nil {
			return fmt.Errorf("%w: %s names a provider the table does not configure", ErrInvalid, name)
		}
		p.APIKey = value
		return nil
	case SecretMCPShareToken:
		if t.MCP == nil {
			return fmt.Errorf("%w: %s names the share of an mcp gateway", ErrInvalid, name)
		}
		t.MCP.ShareToken = value
		return nil
	}
	for i := range t.MCPRoutes {
		if name == ShareTokenSecret(t.MCPRoutes[i].Namespace) {
			t.MCPRoutes[i].Transport.ShareToken = value
			return nil
		}
		if m, key, ok := t.MCPRoutes[i].slot(name); ok {
			*m = withEntry(*m, key, value)
			return nil
		}
	}
	return fmt.Errorf("%w: secret %s names no backend field of this table", ErrInvalid, name)
}

// slot is where a secret of this backend goes: its headers or its env,
// and the key there. HeaderSecret and EnvSecret define the names.
func (r *MCPRoute) slot(name string) (*map[string]string, string, bool) {
	if h, ok := strings.CutPrefix(name, HeaderSecret(r.Namespace, "")); ok {
		return &r.Transport.Headers, h, true
	}
	if e, ok := strings.CutPrefix(name, EnvSecret(r.Namespace, "")); ok {
		return &r.Transport.Env, e, true
	}
	return nil, "", false
}

// stripSecrets removes filled-in secret values, so a table digests the
// same before and after the agent fills it.
func (t *Table) stripSecrets() {
	if t.LLM != nil {
		for _, p := range []*ProviderCreds{t.LLM.OpenAI, t.LLM.Anthropic} {
			if p != nil {
				p.APIKey = ""
			}
		}
	}
	if _, ok := t.Secrets[SecretMCPShareToken]; ok && t.MCP != nil {
		t.MCP.ShareToken = ""
	}
	for i := range t.MCPRoutes {
		r := &t.MCPRoutes[i]
		if _, ok := t.Secrets[ShareTokenSecret(r.Namespace)]; ok {
			r.Transport.ShareToken = ""
		}
		for name := range t.Secrets {
			if m, key, ok := r.slot(name); ok {
				delete(*m, key)
			}
		}
		if len(r.Transport.Headers) == 0 {
			r.Transport.Headers = nil
		}
		if len(r.Transport.Env) == 0 {
			r.Transport.Env = nil
		}
	}
}

func withEntry(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}

// Sensitive lists the values in a filled table that must never appear in a
// log or a report: keys, share tokens, and every env and header value (a
// plain one may hold a credential too). A gateway's failure output is
// redacted with it.
func (t *Table) Sensitive() []string {
	var out []string
	add := func(v string) {
		if len(v) >= 4 {
			out = append(out, v)
		}
	}
	if t.LLM != nil {
		for _, p := range []*ProviderCreds{t.LLM.OpenAI, t.LLM.Anthropic} {
			if p != nil {
				add(p.APIKey)
			}
		}
	}
	if t.MCP != nil {
		add(t.MCP.ShareToken)
	}
	for _, k := range t.Keys {
		add(k.Key)
	}
	for _, r := range t.MCPRoutes {
		add(r.Transport.ShareToken)
		for _, v := range r.Transport.Env {
			add(v)
		}
		for _, v := range r.Transport.Headers {
			add(v)
		}
	}
	return out
}
