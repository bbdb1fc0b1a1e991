// Package control is the protocol between the reconciler and a gateway
// agent over the agent's dark control service: one JSON route table in,
// one JSON report out, per connection. The network decides who may dial
// (only the reconciler's identity has a Dial policy); the protocol adds
// no credentials of its own.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/gateways"
)

// maxTable bounds one pushed table.
const maxTable = 8 << 20

// request is one message to the agent: a table to apply, or a status
// question.
type request struct {
	Table  *gateways.Table `json:"table,omitempty"`
	Status bool            `json:"status,omitempty"`
	// Facts asks for the front's request facts after a sequence number,
	// for the audit trail.
	Facts *FactsQuery `json:"facts,omitempty"`
}

// FactsQuery asks for up to Limit facts with Seq > After.
type FactsQuery struct {
	After int64 `json:"after"`
	Limit int   `json:"limit"`
}

// Facts is an agent's answer to a FactsQuery.
type Facts struct {
	Facts []gateways.RequestFact `json:"facts"`
	// Oldest is the first seq the agent still holds: a follower whose
	// cursor is older missed what lies between.
	Oldest int64 `json:"oldest"`
	// Last is the newest seq the agent has written.
	Last int64 `json:"last"`
	// Epoch names the journal: seqs of another epoch are another count.
	Epoch string `json:"epoch"`
	// Dropped counts the facts the agent could not keep (its queue was
	// full) since it started.
	Dropped int64  `json:"dropped"`
	Error   string `json:"error,omitempty"`
}

// ExchangeTimeout bounds one push or status exchange when the caller's
// context sets no deadline.
const ExchangeTimeout = 10 * time.Minute

// exchange sends one request over a fresh connection and reads one
// answer of at most limit bytes; what names the answer in errors.
func exchange[T any](ctx context.Context, dial func() (net.Conn, error), req request, limit int64, what string) (T, error) {
	var answer T
	conn, err := dial()
	if err != nil {
		return answer, fmt.Errorf("%w: %w", ErrDial, err)
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	} else {
		// An mcp-gateway's start, and a rollback after it, can each take
		// its backends' connect timeouts: allow both.
		_ = conn.SetDeadline(time.Now().Add(ExchangeTimeout))
	}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return answer, fmt.Errorf("writing to the agent: %w", err)
	}
	if err := json.NewDecoder(io.LimitReader(conn, limit)).Decode(&answer); err != nil {
		return answer, fmt.Errorf("reading the agent's %s: %w", what, err)
	}
	return answer, nil
}

// ErrDial is a failure to reach the agent's control service at all: the
// agent may not run yet, and asking again later may succeed.
var ErrDial = errors.New("dialing the gateway agent")

// Dialer reaches an agent's control service through z, refreshing z's
// service list first: a control service made moments ago is otherwise
// unknown to a context that listed services before it.
func Dialer(z ziti.Context, service string) func() (net.Conn, error) {
	return func() (net.Conn, error) {
		_ = z.RefreshServices()
		return z.Dial(service)
	}
}

// maxReport bounds one report read from an agent.
const maxReport = 1 << 20

// Status asks the agent what it runs now.
func Status(ctx context.Context, dial func() (net.Conn, error)) (gateways.Report, error) {
	return exchange[gateways.Report](ctx, dial, request{Status: true}, maxReport, "report")
}

// Push sends a table over a fresh connection and waits for the report.
func Push(ctx context.Context, dial func() (net.Conn, error), t *gateways.Table) (gateways.Report, error) {
	r, err := exchange[gateways.Report](ctx, dial, request{Table: t}, maxReport, "report")
	if err != nil {
		return r, err
	}
	if r.Status != "applied" {
		return r, fmt.Errorf("gateway %s did not apply generation %d (%s): %s", t.Gateway, t.Generation, r.Status, r.Error)
	}
	return r, nil
}

// Serve answers on ln until ctx ends: tables are applied with apply,
// status questions answered with status.
func Serve(ctx context.Context, ln net.Listener, apply func(context.Context, *gateways.Table) gateways.Report, status func() gateways.Report) error {
	return ServeWith(ctx, ln, Handlers{Apply: apply, Status: status})
}

// NoFacts is the answer of an agent that keeps no request facts.
const NoFacts = "this agent keeps no request facts"

// Handlers answer the requests an agent serves; Facts is optional.
type Handlers struct {
	Apply  func(context.Context, *gateways.Table) gateways.Report
	Status func() gateways.Report
	Facts  func(FactsQuery) Facts
}

// ReadFacts asks the agent for its request facts after a sequence number.
func ReadFacts(ctx context.Context, dial func() (net.Conn, error), q FactsQuery) (Facts, error) {
	f, err := exchange[Facts](ctx, dial, request{Facts: &q}, maxTable, "facts")
	if err == nil && f.Error != "" {
		err = errors.New(f.Error)
	}
	return f, err
}

// ServeWith answers on ln until ctx ends with h.
func ServeWith(ctx context.Context, ln net.Listener, h Handlers) error {
	apply, status := h.Apply, h.Status
	go func() { <-ctx.Done(); _ = ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go func() {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(ExchangeTimeout + time.Minute))
			var req request
			var r gateways.Report
			switch err := json.NewDecoder(io.LimitReader(conn, maxTable)).Decode(&req); {
			case err == nil && req.Facts != nil:
				f := Facts{Error: NoFacts}
				if h.Facts != nil {
					f = h.Facts(*req.Facts)
				}
				_ = json.NewEncoder(conn).Encode(f)
				return
			case err != nil:
				r = gateways.Report{Status: "rejected", Error: "unreadable request: " + err.Error()}
			case req.Status:
				r = status()
			case req.Table == nil:
				r = gateways.Report{Status: "rejected", Error: "the request holds no route table"}
			default:
				r = apply(ctx, req.Table)
			}
			_ = json.NewEncoder(conn).Encode(r)
		}()
	}
}
