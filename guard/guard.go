package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/gateways/agent"
)

// EndpointConfigType is the service config naming an endpoint's host.
const EndpointConfigType = "agentmesh.endpoint.v1"

// ConfigTypes are the service configs a guard's Ziti context must request.
var ConfigTypes = []string{ContractConfigType, EndpointConfigType}

// ErrNotHost refuses a guard started with an identity that does not host
// the endpoint.
var ErrNotHost = errors.New("not the endpoint's host")

// errOtherHost is the ErrNotHost that waiting cannot cure: the endpoint
// is visible and names another host.
var errOtherHost = errors.New("another identity hosts it")

// Guard binds one endpoint with its host's identity and guards every
// session on it, forwarding to the agent at Forward.
type Guard struct {
	Ziti     ziti.Context // with ConfigTypes requested
	Endpoint string       // the endpoint's (service's) name
	Forward  string       // host:port of the agent
	Log      *slog.Logger
	// BindTimeout bounds the wait for the Bind policy to reach the
	// identity (a new endpoint's policy may still be on its way).
	BindTimeout time.Duration
}

// terms reads the endpoint's contract as the network delivers it with
// the service, refusing an identity that is not the endpoint's host.
func (g *Guard) terms() (Terms, error) {
	svc, err := g.Ziti.RefreshService(g.Endpoint)
	if err != nil {
		return Terms{}, fmt.Errorf("reading endpoint %q: %w", g.Endpoint, err)
	}
	if svc == nil {
		return Terms{}, fmt.Errorf("%w: endpoint %q is not visible to this identity; run the guard with the endpoint's host identity", ErrNotHost, g.Endpoint)
	}
	me, err := g.Ziti.GetCurrentIdentity()
	if err != nil {
		return Terms{}, fmt.Errorf("reading the guard's own identity: %w", err)
	}
	if host, _ := svc.Config[EndpointConfigType]["host"].(string); me.ID == nil || host != *me.ID {
		name := ""
		if me.Name != nil {
			name = *me.Name
		}
		return Terms{}, fmt.Errorf("%w: %w: identity %q does not host endpoint %q (its host is %s); run the guard with the host's identity", ErrNotHost, errOtherHost, name, g.Endpoint, host)
	}
	cfg, ok := svc.Config[ContractConfigType]
	if !ok {
		return Terms{}, fmt.Errorf("endpoint %q carries no contract config; is its contract missing?", g.Endpoint)
	}
	return TermsFromConfig(cfg)
}

// Run guards the endpoint until ctx ends. Each session gets the terms in
// force when it opens.
func (g *Guard) Run(ctx context.Context) error {
	timeout := g.BindTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	// A new endpoint's service may take a moment to reach its host.
	deadline := time.Now().Add(timeout)
	terms, err := g.terms()
	for err != nil && !errors.Is(err, errOtherHost) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		terms, err = g.terms()
	}
	if err != nil {
		return err
	}
	ln, err := agent.Listen(ctx, g.Ziti, g.Endpoint, time.Until(deadline))
	if err != nil {
		return fmt.Errorf("binding endpoint %q: %w", g.Endpoint, err)
	}
	g.Log.InfoContext(ctx, "guarding endpoint", "endpoint", g.Endpoint, "forward", g.Forward, "max_message_bytes", terms.MaxMessageBytes,
		"max_message_count", terms.MaxMessageCount, "allowed_message_types", terms.AllowedTypes, "max_duration", terms.MaxDuration.String())
	current := &currentTerms{terms: terms}
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accepting on endpoint %q: %w", g.Endpoint, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.serve(ctx, c, current.get(ctx, g))
		}()
	}
}

// currentTerms holds the terms the last session read, for when the
// controller cannot be asked.
type currentTerms struct {
	mu    sync.Mutex
	terms Terms
}

// get reads the terms in force now, or keeps the last ones (logged) when
// the controller does not answer: sessions go on under the terms last
// delivered rather than under none.
func (c *currentTerms) get(ctx context.Context, g *Guard) Terms {
	t, err := g.terms()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		g.Log.WarnContext(ctx, "could not refresh the contract; this session keeps the last terms", "error", err.Error())
		return c.terms
	}
	c.terms = t
	return t
}

func (g *Guard) serve(ctx context.Context, c net.Conn, terms Terms) {
	local, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", g.Forward)
	if err != nil {
		g.Log.ErrorContext(ctx, "the agent is unreachable; closing the session", "forward", g.Forward, "error", err.Error())
		_ = c.Close()
		return
	}
	// Stopping the guard ends its sessions.
	stop := context.AfterFunc(ctx, func() { _ = c.Close(); _ = local.Close() })
	defer stop()
	o := Serve(c, local, terms)
	attrs := []any{"endpoint", g.Endpoint, "messages", o.Messages, "duration", o.Duration.Round(time.Millisecond).String()}
	if o.Violation != "" {
		g.Log.InfoContext(ctx, "closed a session that broke its contract", append(attrs, "reason", o.Violation.Reason())...)
		return
	}
	g.Log.DebugContext(ctx, "session ended", attrs...)
}
