package gateways

import (
	"context"
	"time"
)

type callerKey struct{}

// WithCaller marks a request as coming from a network-verified identity
// (by name). Only the listener that accepted the connection on the
// identity's own data-plane service may call it: the service dialed is the
// proof, never anything the caller sent.
func WithCaller(ctx context.Context, identity string) context.Context {
	return context.WithValue(ctx, callerKey{}, identity)
}

// CallerOf is the identity WithCaller recorded, if any.
func CallerOf(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(callerKey{}).(string)
	return id, ok && id != ""
}

// RequestFact is what a data-plane front knows of one request, for the
// audit trail: who asked (as the network verified it), for what, and what
// it cost. Prompt and answer content are never part of it.
type RequestFact struct {
	// Seq numbers the facts of one gateway agent, from 1; the audit
	// follower's cursor is the last Seq it wrote.
	Seq              int64     `json:"seq"`
	Time             time.Time `json:"time"`
	Identity         string    `json:"identity"` // the caller's name, from the service it dialed
	Method           string    `json:"method"`
	Path             string    `json:"path"`
	Model            string    `json:"model,omitempty"`
	ResolvedModel    string    `json:"resolved_model,omitempty"`
	Stream           bool      `json:"stream,omitempty"`
	Status           int       `json:"status"`
	PromptTokens     int64     `json:"prompt_tokens"`
	CompletionTokens int64     `json:"completion_tokens"`
	TotalTokens      int64     `json:"total_tokens"`
	LatencyMS        float64   `json:"latency_ms"`
	BytesIn          int64     `json:"bytes_in"`
	BytesOut         int64     `json:"bytes_out"`
	// Aborted: the answer was cut short (the caller left, the gateway
	// failed); the tokens are what was charged by the time it ended.
	Aborted bool `json:"aborted,omitempty"`
}
