// Package llmfront is the LLM data plane that a gateway agent puts in front
// of llm-gateway. The caller's identity must already be verified by the
// network (one data-plane service per audience identity, each granted by
// its own Dial policy): the front never trusts a name the caller chose.
// For that identity it injects the identity's virtual key (agents never
// hold API keys), refuses models outside its routes, meters tokens from
// the answers (streaming included) and refuses with 429 once the budget
// of the current period is spent.
package llmfront

import (
	"bufio"
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

type identityKey struct{}

// WithIdentity marks a request as coming from a network-verified identity.
// Only the listener that accepted the connection on the identity's own
// service may call it.
func WithIdentity(ctx context.Context, identity string) context.Context {
	return context.WithValue(ctx, identityKey{}, identity)
}

// Front is the data-plane handler.
type Front struct {
	proxy *httputil.ReverseProxy
	log   *slog.Logger
	now   func() time.Time

	mu     sync.Mutex
	grants map[string]Grant
	usage  map[string]*Usage
	// OnUsage, when set before serving, is told after each metered
	// answer, so the agent can keep usage across restarts.
	OnUsage func()
}

// New fronts the gateway listening at upstream (its loopback address).
func New(upstream *url.URL, log *slog.Logger) *Front {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Front{log: log, now: time.Now, grants: map[string]Grant{}, usage: map[string]*Usage{}}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstream)
			r.Out.Host = upstream.Host
		},
		ModifyResponse: f.meter,
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

func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := r.Context().Value(identityKey{}).(string)
	if !ok || id == "" {
		writeError(w, http.StatusUnauthorized, "authentication_error", "no network-verified identity on this connection")
		return
	}
	f.mu.Lock()
	g, granted := f.grants[id]
	spent := false
	if granted { // no bookkeeping for callers without a route
		u := f.usageLocked(id, g)
		spent = g.Budget > 0 && u.Tokens >= g.Budget
	}
	f.mu.Unlock()
	if !granted {
		writeError(w, http.StatusForbidden, "permission_error", fmt.Sprintf("identity %q has no route on this gateway", id))
		return
	}
	if spent {
		writeError(w, http.StatusTooManyRequests, "budget_exceeded", fmt.Sprintf("identity %q spent its budget of %d tokens for this period", id, g.Budget))
		return
	}
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/chat/completions") {
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "unreadable request body")
			return
		}
		var req map[string]any
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "the request body is not JSON")
			return
		}
		model, _ := req["model"].(string)
		if model != "auto" && !allowed(g.AllowedModels, model) {
			writeError(w, http.StatusForbidden, "permission_error", fmt.Sprintf("model %q is not allowed for identity %q", model, id))
			return
		}
		// A stream must report its usage, or the budget could not be
		// metered: ask for it whatever the caller sent.
		if stream, _ := req["stream"].(bool); stream {
			req["stream_options"] = map[string]any{"include_usage": true}
			if body, err = json.Marshal(req); err != nil {
				writeError(w, http.StatusBadRequest, "invalid_request_error", "unusable request body")
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	// Whatever the caller sent, the gateway sees only this identity's key.
	r.Header.Set("Authorization", "Bearer "+g.Key)
	r.Header.Del("X-Api-Key")
	f.proxy.ServeHTTP(w, r)
}

func allowed(patterns []string, model string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, model); ok {
			return true
		}
	}
	return false
}

// usageLocked returns the identity's usage, starting a new period when the
// current one has ended.
func (f *Front) usageLocked(id string, g Grant) *Usage {
	u, ok := f.usage[id]
	now := f.now()
	if !ok {
		u = &Usage{Identity: id, PeriodStart: now}
		f.usage[id] = u
	}
	if g.Period > 0 && now.Sub(u.PeriodStart) >= g.Period {
		u.Tokens, u.Requests, u.PeriodStart = 0, 0, now
	}
	return u
}

func (f *Front) record(id string, tokens int64) {
	f.mu.Lock()
	u := f.usageLocked(id, f.grants[id])
	u.Tokens += tokens
	u.Requests++
	f.mu.Unlock()
	if f.OnUsage != nil {
		f.OnUsage()
	}
}

// meter counts the tokens of an answer: from `usage` in a JSON body, or
// from the chunk carrying `usage` in an SSE stream, which is passed
// through as it arrives.
func (f *Front) meter(resp *http.Response) error {
	id, _ := resp.Request.Context().Value(identityKey{}).(string)
	if resp.StatusCode != http.StatusOK || !strings.HasSuffix(resp.Request.URL.Path, "/chat/completions") {
		return nil
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		pr, pw := io.Pipe()
		src := resp.Body
		go func() {
			// If the stream never reports usage (cut short, or an upstream
			// that ignores include_usage), charge an estimate of four bytes
			// of streamed data per token rather than nothing.
			var tokens, streamed int64
			sc := bufio.NewScanner(src)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			for sc.Scan() {
				line := sc.Text()
				if data, ok := strings.CutPrefix(line, "data: "); ok && data != "[DONE]" {
					streamed += int64(len(data))
					if t := usageOf([]byte(data)); t > 0 {
						tokens = t
					}
				}
				if _, err := io.WriteString(pw, line+"\n"); err != nil {
					break
				}
			}
			_ = src.Close()
			if tokens == 0 {
				tokens = (streamed + 3) / 4
			}
			f.record(id, tokens)
			pw.CloseWithError(sc.Err())
		}()
		resp.Body = pr
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	f.record(id, usageOf(body))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

func usageOf(b []byte) int64 {
	var v struct {
		Usage *struct {
			TotalTokens      int64 `json:"total_tokens"`
			PromptTokens     int64 `json:"prompt_tokens"`
			CompletionTokens int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if json.Unmarshal(b, &v) != nil || v.Usage == nil {
		return 0
	}
	if v.Usage.TotalTokens > 0 {
		return v.Usage.TotalTokens
	}
	return v.Usage.PromptTokens + v.Usage.CompletionTokens
}
