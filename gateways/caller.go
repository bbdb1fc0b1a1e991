package gateways

import "context"

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
