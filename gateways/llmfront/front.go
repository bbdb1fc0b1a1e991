// Package llmfront is the LLM data plane that a gateway agent puts in front
// of llm-gateway. The caller's identity must already be verified by the
// network (one data-plane service per audience identity, each granted by
// its own Dial policy): the front never trusts a name the caller chose.
// For that identity it injects the identity's virtual key (agents never
// hold API keys), refuses models outside its routes, meters tokens from
// the answers (streaming included) and holds each identity to its budget:
// a request reserves its most expensive outcome at admission and settles
// at what it cost, so concurrent requests cannot overshoot.
package llmfront

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/agentmesh/agentmesh/gateways"
)

// Grant is what one verified identity may do through the front.
type Grant struct {
	Key           string   // the identity's virtual key on the gateway
	AllowedModels []string // path.Match patterns
	Budget        int64    // tokens per period; 0 = no budget
	Period        time.Duration
}

// Usage is one identity's consumption in the current period.
type Usage struct {
	Identity    string    `json:"identity"`
	Tokens      int64     `json:"tokens"`
	Requests    int64     `json:"requests"`
	PeriodStart time.Time `json:"period_start"`
}

// WithIdentity marks a request as coming from a network-verified identity.
// Only the listener that accepted the connection on the identity's own
// service may call it.
func WithIdentity(ctx context.Context, identity string) context.Context {
	return gateways.WithCaller(ctx, identity)
}

// Front is the data-plane handler.
type Front struct {
	proxy *httputil.ReverseProxy
	log   *slog.Logger
	now   func() time.Time

	mu     sync.Mutex
	grants map[string]Grant
	usage  map[string]*Usage
	held   map[string]int64 // tokens reserved by requests in flight
	// OnUsage, when set before serving, is told after each metered
	// answer, so the agent can keep usage across restarts.
	OnUsage func()
	// OnRequest, when set before serving, is given the facts of every
	// request once it is answered, for the audit trail. It must not
	// block: it runs on the request's goroutine.
	OnRequest func(gateways.RequestFact)
}

// New fronts the gateway listening at upstream (its loopback address).
func New(upstream *url.URL, log *slog.Logger) *Front {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Front{log: log, now: time.Now, grants: map[string]Grant{}, usage: map[string]*Usage{}, held: map[string]int64{}}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstream)
			r.Out.Host = upstream.Host
		},
		ModifyResponse: f.modify,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			f.log.WarnContext(r.Context(), "gateway unreachable", "error", err.Error())
			writeError(w, http.StatusBadGateway, "gateway_unavailable", "the LLM gateway behind this service is not answering")
		},
	}
	return f
}

// SetGrants replaces every identity's grant (a new route table).
func (f *Front) SetGrants(g map[string]Grant) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.grants = g
}

// Usage returns each identity's consumption in its current period.
func (f *Front) Usage() []Usage {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Usage, 0, len(f.usage))
	for _, u := range f.usage {
		out = append(out, *u)
	}
	return out
}

// RestoreUsage puts back usage kept from before a restart; periods that
// have ended since are reset on the next request as usual.
func (f *Front) RestoreUsage(us []Usage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range us {
		f.usage[u.Identity] = &u
	}
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"type": typ, "message": msg}})
}

// DefaultMaxTokens caps the answer of a budgeted request that names no
// max_tokens (and no request is let run past what is left of its
// budget): the front sets max_tokens, so the reservation made at
// admission bounds what the request can cost.
const DefaultMaxTokens = 1024

// ServeHTTP forwards only what the front governs: chat completions, and
// the model list filtered to the caller's models. llm-gateway v0.1.4 has
// no embeddings endpoint, and its /health and /metrics are the operator's,
// not the audience's: everything else is 404.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	on := f.OnRequest
	if on == nil {
		f.serve(w, r, &gateways.RequestFact{})
		return
	}
	start := f.now()
	fact := &gateways.RequestFact{Time: start, Method: r.Method, Path: clip(r.URL.Path)}
	cw := &countingWriter{ResponseWriter: w}
	// A stream cut short (the caller gone, the gateway failing) ends the
	// proxy with a panic (http.ErrAbortHandler): the fact is recorded
	// all the same, marked aborted, and the panic goes on.
	defer func() {
		p := recover()
		fact.Status = cw.status
		if fact.Status == 0 {
			fact.Status = http.StatusOK
		}
		fact.Aborted = p != nil
		fact.BytesOut = cw.n
		fact.LatencyMS = float64(f.now().Sub(start).Microseconds()) / 1000
		on(*fact)
		if p != nil {
			panic(p)
		}
	}()
	f.serve(cw, r, fact)
}

// clip bounds what a caller chose (a path, a model name) in a fact: a
// fact is one line of a journal the audit follower reads in batches.
func clip(s string) string {
	const most = 200
	if len(s) <= most {
		return s
	}
	return strings.ToValidUTF8(s[:most], "") + "..."
}

func (f *Front) serve(w http.ResponseWriter, r *http.Request, fact *gateways.RequestFact) {
	id, ok := gateways.CallerOf(r.Context())
	fact.Identity = id
	if !ok || id == "" {
		writeError(w, http.StatusUnauthorized, "authentication_error", "no network-verified identity on this connection")
		return
	}
	route := r.Method + " " + r.URL.Path
	if route != "POST /v1/chat/completions" && route != "GET /v1/models" {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("%s is not served on this data plane: only POST /v1/chat/completions and GET /v1/models are", route))
		return
	}
	f.mu.Lock()
	g, granted := f.grants[id]
	f.mu.Unlock()
	if !granted {
		writeError(w, http.StatusForbidden, "permission_error", fmt.Sprintf("identity %q has no route on this gateway", id))
		return
	}
	r.URL.RawQuery = ""
	if r.Method == http.MethodGet {
		f.forward(w, r, g, nil)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	fact.BytesIn = int64(len(body))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "unreadable request body")
		return
	}
	body, fields, err := canonical(body)
	var req chatRequest
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "the request body is not a chat completion request")
		return
	}
	fact.Model, fact.Stream = clip(req.Model), req.Stream
	if req.Model != "auto" && !allowed(g.AllowedModels, req.Model) {
		writeError(w, http.StatusForbidden, "permission_error", fmt.Sprintf("model %q is not allowed for identity %q", req.Model, id))
		return
	}
	count := counterFor(req.Model)
	prompt := req.promptTokens(count)
	res, limit, err := f.reserve(id, g, prompt, req.completionCap(), req.choices())
	if err != nil {
		writeError(w, http.StatusTooManyRequests, "budget_exceeded", err.Error())
		return
	}
	if g.Budget > 0 {
		// The limit the reservation holds is the one the gateway forwards:
		// max_tokens, whatever the caller sent (llm-gateway v0.1.4 drops
		// max_completion_tokens).
		fields["max_tokens"] = limit
		if _, ok := fields["max_completion_tokens"]; ok {
			fields["max_completion_tokens"] = limit
		}
		if body, err = json.Marshal(fields); err != nil {
			res.settle(0)
			writeError(w, http.StatusBadRequest, "invalid_request_error", "unusable request body")
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	m := &metered{res: res, prompt: prompt, count: count}
	f.forward(w, r, g, m)
	// The reservation is settled by now: by the meter, which has read the
	// whole answer before the proxy returns, or by forward.
	fact.PromptTokens = prompt
	charged := res.charged.Load()
	fact.TotalTokens = charged
	fact.CompletionTokens = max(charged-prompt, 0)
	if mod := m.resolved.Load(); mod != nil {
		fact.ResolvedModel = clip(*mod)
	}
}

// countingWriter notes the status and size of what the front answered.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// Flush passes streamed chunks on as they come.
func (c *countingWriter) Flush() {
	if fl, ok := c.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

type meteredKey struct{}

func (f *Front) forward(w http.ResponseWriter, r *http.Request, g Grant, m *metered) {
	ctx := context.WithValue(r.Context(), grantKey{}, g)
	if m != nil {
		ctx = context.WithValue(ctx, meteredKey{}, m)
		// If no answer reached the meter, the gateway refused or is down
		// (nothing was produced), or the caller went away first: then the
		// prompt may have reached the model, and is charged.
		defer func() {
			if !m.owned.Load() {
				var cost int64
				if r.Context().Err() != nil {
					cost = m.prompt
				}
				m.res.settle(cost)
			}
		}()
	}
	// Whatever the caller sent, the gateway sees only this identity's key.
	r.Header.Set("Authorization", "Bearer "+g.Key)
	r.Header.Del("X-Api-Key")
	f.proxy.ServeHTTP(w, r.WithContext(ctx))
}

func allowed(patterns []string, model string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, model); ok {
			return true
		}
	}
	return false
}
