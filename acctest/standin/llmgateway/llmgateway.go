// Package llmgateway is a strict stand-in for openziti/llm-gateway v0.1.4,
// which cannot be built here. It reads its YAML with the exact reference
// schema (unknown keys are fatal, where the real gateway would ignore
// them), and answers /health, /v1/models and /v1/chat/completions the way
// the reference describes: 401 without a key, 403 for a model outside the
// key's allowed_models, and otherwise the answer of the provider the
// model's prefix selects (hosted ones called with their api_key),
// streaming included.
package llmgateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"github.com/agentmesh/agentmesh/acctest/standin/refschema"
)

// Load reads and strictly checks a configuration file.
func Load(file string) (*refschema.LLM, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var c refschema.LLM
	if err := refschema.Decode(b, &c); err != nil {
		return nil, fmt.Errorf("config %s: %w", file, err)
	}
	local := c.Providers.Local != nil && c.Providers.Local.BaseURL != ""
	if !local && c.Providers.OpenAI == nil && c.Providers.Anthropic == nil {
		return nil, errors.New("no provider is configured")
	}
	return &c, nil
}

// Run serves the configuration until ctx ends. ready, if set, receives the
// listening address.
func Run(ctx context.Context, c *refschema.LLM, ready chan<- string) error {
	listen := c.Listen
	if listen == "" {
		listen = ":8080"
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler(c), ReadHeaderTimeout: 10 * time.Second}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func fail(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"message": msg, "type": typ}})
}

func handler(c *refschema.LLM) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	keyOf := func(r *http.Request) (allowed []string, ok bool) {
		if !c.APIKeys.Enabled {
			return []string{"*"}, true
		}
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		for _, k := range c.APIKeys.Keys {
			if k.Key != "" && k.Key == got {
				return k.AllowedModels, true
			}
		}
		return nil, false
	}
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := keyOf(r); !ok {
			fail(w, http.StatusUnauthorized, "authentication_error", "invalid API key")
			return
		}
		var data []map[string]string
		if c.Routing != nil {
			data = append(data, map[string]string{"id": "auto", "object": "model"})
			for _, rt := range c.Routing.Routes {
				data = append(data, map[string]string{"id": rt.Model, "object": "model"})
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		allowed, ok := keyOf(r)
		if !ok {
			fail(w, http.StatusUnauthorized, "authentication_error", "invalid API key")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			fail(w, http.StatusBadRequest, "invalid_request_error", "unreadable body")
			return
		}
		var req map[string]any
		if err := json.Unmarshal(body, &req); err != nil {
			fail(w, http.StatusBadRequest, "invalid_request_error", "body is not JSON")
			return
		}
		model, _ := req["model"].(string)
		if model == "auto" && c.Routing != nil && len(c.Routing.Routes) > 0 {
			model = autoRoute(c, req)
			req["model"] = model
			if body, err = json.Marshal(req); err != nil {
				fail(w, http.StatusInternalServerError, "internal_error", err.Error())
				return
			}
		}
		permitted := false
		for _, p := range allowed {
			if ok, _ := path.Match(p, model); ok {
				permitted = true
			}
		}
		if !permitted {
			fail(w, http.StatusForbidden, "permission_error", fmt.Sprintf("model '%s' is not allowed for this API key", model))
			return
		}
		target, auth, err := upstream(c, model)
		if err != nil {
			fail(w, http.StatusBadRequest, "invalid_request_error", err.Error())
			return
		}
		up, err := http.NewRequestWithContext(r.Context(), http.MethodPost, target, strings.NewReader(string(body)))
		if err != nil {
			fail(w, http.StatusInternalServerError, "internal_error", err.Error())
			return
		}
		for k, v := range auth {
			up.Header.Set(k, v)
		}
		up.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(up)
		if err != nil {
			fail(w, http.StatusBadGateway, "upstream_error", err.Error())
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		fl, _ := w.(http.Flusher)
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				_, _ = w.Write(buf[:n])
				if fl != nil {
					fl.Flush()
				}
			}
			if err != nil {
				return
			}
		}
	})
	return mux
}

// upstream applies llm-gateway's fixed model-to-provider rule. A hosted
// provider is active only with a non-empty api_key; api_key and base_url
// get ${VAR} expansion, as in v0.1.4.
func upstream(c *refschema.LLM, model string) (string, map[string]string, error) {
	hosted := func(name string, p *refschema.Hosted, def string, header func(string) map[string]string) (string, map[string]string, error) {
		if p == nil || os.ExpandEnv(p.APIKey) == "" {
			return "", nil, fmt.Errorf("no provider for model %s: %s is not configured", model, name)
		}
		base := os.ExpandEnv(p.BaseURL)
		if base == "" {
			base = def
		}
		return strings.TrimSuffix(base, "/") + "/chat/completions", header(os.ExpandEnv(p.APIKey)), nil
	}
	switch {
	case strings.HasPrefix(model, "gpt-"), strings.HasPrefix(model, "o1-"), strings.HasPrefix(model, "o3-"):
		return hosted("open_ai", c.Providers.OpenAI, "https://api.openai.com/v1", func(k string) map[string]string { return map[string]string{"Authorization": "Bearer " + k} })
	case strings.HasPrefix(model, "claude-"):
		return hosted("anthropic", c.Providers.Anthropic, "https://api.anthropic.com/v1", func(k string) map[string]string { return map[string]string{"X-Api-Key": k} })
	}
	if c.Providers.Local == nil {
		return "", nil, fmt.Errorf("no provider for model %s", model)
	}
	return strings.TrimSuffix(c.Providers.Local.BaseURL, "/") + "/v1/chat/completions", nil, nil
}

// autoRoute follows the reference cascade for model "auto" as far as a
// stand-in can: heuristic keyword rules (case-insensitive, over the
// messages), then default_route, then the first route. Embeddings and the
// classifier are not imitated.
func autoRoute(c *refschema.LLM, req map[string]any) string {
	var text strings.Builder
	msgs, _ := req["messages"].([]any)
	for _, m := range msgs {
		if mm, ok := m.(map[string]any); ok {
			content, _ := mm["content"].(string)
			text.WriteString(strings.ToLower(content) + "\n")
		}
	}
	model := func(route string) string {
		for _, r := range c.Routing.Routes {
			if r.Name == route {
				return r.Model
			}
		}
		return ""
	}
	if h := c.Routing.Heuristics; h != nil && h.Enabled {
		for _, rule := range h.Rules {
			hit := false
			for _, k := range rule.Match.Keywords {
				hit = hit || strings.Contains(text.String(), strings.ToLower(k))
			}
			for _, x := range rule.Match.Exclude {
				hit = hit && !strings.Contains(text.String(), strings.ToLower(x))
			}
			if m := model(rule.Route); hit && m != "" {
				return m
			}
		}
	}
	if m := model(c.Routing.DefaultRoute); m != "" {
		return m
	}
	return c.Routing.Routes[0].Model
}
