// Package model is a local OpenAI-compatible model server for tests, the
// demo and the benches. It plays the model behind the real llm-gateway:
// it answers chat completions whole or streamed (SSE, one token per
// chunk, usage in a last chunk when asked with stream_options), honours
// max_tokens, reports usage counted with the cl100k_base tokenizer and
// OpenAI's message framing, lists its models, and computes embeddings
// (OpenAI's /v1/embeddings and Ollama's /api/embed) so that the gateway's
// semantic routing runs against it.
package model

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer/codec"
)

// Answer is what the model says to one request.
type Answer struct {
	Text      string
	ToolCalls []ToolCall
}

// ToolCall is one function call in an answer.
type ToolCall struct {
	Name      string
	Arguments string
}

// Request is what the model was asked.
type Request struct {
	Model    string
	Messages []Message
}

// Message is one chat message (text content only).
type Message struct {
	Role    string
	Content string
}

// Last is the content of the last message.
func (r Request) Last() string {
	if len(r.Messages) == 0 {
		return ""
	}
	return r.Messages[len(r.Messages)-1].Content
}

// Usage is a request's token count, as the model reported it.
type Usage struct {
	Prompt, Completion int
}

// Server is a running model.
type Server struct {
	*httptest.Server
	// Reply chooses the answer; nil answers "Hello from <model>".
	Reply func(Request) Answer
	// Models is what /v1/models lists.
	Models []string
	// Delay is waited before each streamed chunk.
	Delay time.Duration

	mux      http.Handler
	requests atomic.Int64
	mu       sync.Mutex
	usage    []Usage
}

// Start serves a model on loopback; Close stops it.
func Start(models ...string) *Server {
	s := New(models...)
	s.Server = httptest.NewServer(s)
	return s
}

// New is a model to serve with a server of one's own.
func New(models ...string) *Server {
	s := &Server{Models: models}
	s.mux = s.handler()
	return s
}

// ServeHTTP answers as the model.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Usages are the usage figures reported, one per chat completion, in
// order.
func (s *Server) Usages() []Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Usage(nil), s.usage...)
}

var cl100k = sync.OnceValue(codec.NewCl100kBase)

func tokens(s string) []string {
	if s == "" {
		return nil
	}
	_, parts, err := cl100k().Encode(s)
	if err != nil {
		panic(err)
	}
	return parts
}

type wireMessage struct {
	Role      string          `json:"role"`
	Name      string          `json:"name"`
	Content   json.RawMessage `json:"content"`
	ToolCalls []struct {
		Function struct{ Name, Arguments string } `json:"function"`
	} `json:"tool_calls"`
}

func (m wireMessage) text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var parts []struct{ Text string }
	_ = json.Unmarshal(m.Content, &parts)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []wireMessage `json:"messages"`
	Stream        bool          `json:"stream"`
	MaxTokens     int           `json:"max_tokens"`
	Tools         []any         `json:"tools"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// promptTokens counts the way OpenAI documents for its chat models: three
// tokens of framing per message, one more for a name, three to prime the
// answer, and the tools' definitions.
func (r chatRequest) promptTokens() int {
	n := 3
	for _, m := range r.Messages {
		n += 3 + len(tokens(m.Role)) + len(tokens(m.text()))
		if m.Name != "" {
			n += 1 + len(tokens(m.Name))
		}
		for _, c := range m.ToolCalls {
			n += len(tokens(c.Function.Name)) + len(tokens(c.Function.Arguments))
		}
	}
	if len(r.Tools) > 0 {
		b, _ := json.Marshal(r.Tools)
		n += len(tokens(string(b)))
	}
	return n
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, _ *http.Request) {
		data := []map[string]string{}
		for _, m := range s.Models {
			data = append(data, map[string]string{"id": m, "object": "model", "owned_by": "local"})
		}
		writeJSON(w, map[string]any{"object": "list", "data": data})
	})
	mux.HandleFunc("POST /v1/embeddings", func(w http.ResponseWriter, r *http.Request) {
		texts, err := embedInput(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		data := []map[string]any{}
		for i, t := range texts {
			data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": Embed(t)})
		}
		writeJSON(w, map[string]any{"object": "list", "data": data})
	})
	mux.HandleFunc("POST /api/embed", func(w http.ResponseWriter, r *http.Request) {
		texts, err := embedInput(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out := [][]float64{}
		for _, t := range texts {
			out = append(out, Embed(t))
		}
		writeJSON(w, map[string]any{"embeddings": out})
	})
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func embedInput(r *http.Request) ([]string, error) {
	var req struct {
		Input json.RawMessage `json:"input"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return nil, err
	}
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(req.Input, &many); err != nil {
		return nil, fmt.Errorf("input must be a string or a list of strings: %w", err)
	}
	return many, nil
}

// Embed is a deterministic bag-of-words embedding: texts that share words
// are close, which is what routing by route examples needs.
func Embed(text string) []float64 {
	v := make([]float64, 64)
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		h := fnv.New32a()
		_, _ = h.Write([]byte(w))
		v[h.Sum32()%64]++
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	if norm == 0 {
		v[0], norm = 1, 1
	}
	for i := range v {
		v[i] /= math.Sqrt(norm)
	}
	return v
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, `{"error":"body is not JSON"}`, http.StatusBadRequest)
		return
	}
	q := Request{Model: req.Model}
	for _, m := range req.Messages {
		q.Messages = append(q.Messages, Message{Role: m.Role, Content: m.text()})
	}
	a := Answer{Text: "Hello from " + req.Model + ", reached over a dark Ziti service."}
	if s.Reply != nil {
		a = s.Reply(q)
	}
	parts, finish := tokens(a.Text), "stop"
	if len(a.ToolCalls) > 0 {
		finish = "tool_calls"
	}
	if req.MaxTokens > 0 && len(parts) > req.MaxTokens {
		parts, finish, a.ToolCalls = parts[:req.MaxTokens], "length", nil
	}
	completion := len(parts)
	for _, c := range a.ToolCalls {
		completion += len(tokens(c.Name)) + len(tokens(c.Arguments))
	}
	u := Usage{Prompt: req.promptTokens(), Completion: completion}
	s.requests.Add(1)
	s.mu.Lock()
	s.usage = append(s.usage, u)
	s.mu.Unlock()
	usage := map[string]int{"prompt_tokens": u.Prompt, "completion_tokens": u.Completion, "total_tokens": u.Prompt + u.Completion}
	id := fmt.Sprintf("chatcmpl-%d", s.requests.Load())
	if !req.Stream {
		msg := map[string]any{"role": "assistant", "content": strings.Join(parts, "")}
		if calls := wireCalls(a.ToolCalls); len(calls) > 0 {
			msg["tool_calls"] = calls
		}
		writeJSON(w, map[string]any{"id": id, "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}}, "usage": usage})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl, _ := w.(http.Flusher)
	send := func(v map[string]any) bool {
		v["id"], v["object"], v["created"], v["model"] = id, "chat.completion.chunk", time.Now().Unix(), req.Model
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return r.Context().Err() == nil
	}
	delta := func(d map[string]any, finish any) map[string]any {
		return map[string]any{"choices": []any{map[string]any{"index": 0, "delta": d, "finish_reason": finish}}}
	}
	if !send(delta(map[string]any{"role": "assistant", "content": ""}, nil)) {
		return
	}
	for _, p := range chunks(parts) {
		if s.Delay > 0 {
			time.Sleep(s.Delay)
		}
		if !send(delta(map[string]any{"content": p}, nil)) {
			return
		}
	}
	for i, c := range a.ToolCalls {
		first := map[string]any{"index": i, "id": fmt.Sprintf("call_%d", i), "type": "function", "function": map[string]string{"name": c.Name, "arguments": ""}}
		if !send(delta(map[string]any{"tool_calls": []any{first}}, nil)) {
			return
		}
		for _, p := range chunks(tokens(c.Arguments)) {
			if !send(delta(map[string]any{"tool_calls": []any{map[string]any{"index": i, "function": map[string]string{"arguments": p}}}}, nil)) {
				return
			}
		}
	}
	if !send(delta(map[string]any{}, finish)) {
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		if !send(map[string]any{"choices": []any{}, "usage": usage}) {
			return
		}
	}
	_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
}

// chunks joins token pieces until each is whole UTF-8: a token can be
// part of a character, and a streaming API never sends half of one.
func chunks(parts []string) []string {
	var out []string
	pending := ""
	for _, p := range parts {
		pending += p
		if utf8.ValidString(pending) {
			out = append(out, pending)
			pending = ""
		}
	}
	if pending != "" {
		out = append(out, pending)
	}
	return out
}

func wireCalls(calls []ToolCall) []any {
	var out []any
	for i, c := range calls {
		out = append(out, map[string]any{"id": fmt.Sprintf("call_%d", i), "type": "function",
			"function": map[string]string{"name": c.Name, "arguments": c.Arguments}})
	}
	return out
}
