package controller

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	httptransport "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	"github.com/openziti/edge-api/rest_management_api_client"
	"github.com/openziti/edge-api/rest_management_api_client/authentication"
	"github.com/openziti/edge-api/rest_model"
	"github.com/openziti/edge-api/rest_util"
)

// Client is one authenticated connection to a controller's management API.
// It is safe for concurrent use; every caller shares one HTTP connection pool
// and one API session.
type Client struct {
	// API is the generated management client. Its calls take a nil
	// ClientAuthInfoWriter: the session header is added by the transport.
	API *rest_management_api_client.ZitiEdgeManagement

	cfg Config
	res *resolved
	log *slog.Logger

	authMu  sync.Mutex
	token   atomic.Pointer[string]
	stats   Stats
	closers []func()
	zctx    zitiContext
	tls     *tls.Config
	run     runMarker
}

// runMarker announces a run on the controller before its first write.
// ziti v1.6 reads a change's traceId only from form parameters, which its
// JSON API never parses, so a run cannot label its writes: it writes a
// marker instead (the reconciler's run config), and the audit trail
// attributes what the same identity writes next to that run.
type runMarker struct {
	mu     sync.Mutex
	mark   func(context.Context) error
	marked bool
}

type markingKey struct{}

// SetRun starts a run: mark is called once, before the run's first write
// (not for plans or reads), and its own requests pass straight through.
// A failed mark is logged, never fatal: it costs the audit trail its
// attribution, not the run its writes.
func (c *Client) SetRun(mark func(context.Context) error) {
	c.run.mu.Lock()
	defer c.run.mu.Unlock()
	c.run.mark, c.run.marked = mark, false
}

func (c *Client) beforeWrite(ctx context.Context) {
	if ctx.Value(markingKey{}) != nil {
		return
	}
	c.run.mu.Lock()
	defer c.run.mu.Unlock()
	if c.run.marked || c.run.mark == nil {
		return
	}
	c.run.marked = true
	if err := c.run.mark(context.WithValue(ctx, markingKey{}, true)); err != nil {
		c.log.WarnContext(ctx, "could not mark the run for the audit trail; its changes will show as unattributed", "error", err.Error())
	}
}

// Stats counts what the client did; benchmarks and tests read it.
type Stats struct {
	Requests        atomic.Int64
	Retries         atomic.Int64
	Authentications atomic.Int64
}

// New builds a client. It does not contact the controller unless
// FetchWellKnownCA asks it to; the first API call authenticates.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Client, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.RetryMaxInterval <= 0 {
		cfg.RetryMaxInterval = 5 * time.Second
	}

	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: res.caPool}
	if res.clientCert != nil {
		tlsCfg.Certificates = []tls.Certificate{*res.clientCert}
	}
	switch {
	case cfg.Insecure:
		log.WarnContext(ctx, "TLS verification of the controller is disabled (insecure = true); anyone on the path can impersonate the controller and read credentials")
		tlsCfg.InsecureSkipVerify = true //nolint:gosec // explicit, warned opt-in
	case cfg.FetchWellKnownCA && len(cfg.CAPEM) == 0:
		origin := res.managementURL.Scheme + "://" + res.managementURL.Host
		log.WarnContext(ctx, "trusting the CA bundle the controller itself serves (fetch_well_known_ca = true); pin ca_pem or ca_file instead for production", "url", origin+"/.well-known/est/cacerts")
		certs, err := rest_util.GetControllerWellKnownCas(origin)
		if err != nil {
			return nil, fmt.Errorf("%w: fetching the controller's well-known CA bundle from %s: %w", ErrUnreachable, origin, err)
		}
		pool := x509.NewCertPool()
		for _, c := range certs {
			pool.AddCert(c)
		}
		tlsCfg.RootCAs = pool
	}

	base := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tlsCfg,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 15 * time.Second,
	}
	c := &Client{cfg: cfg, res: res, log: log, tls: tlsCfg}
	c.closers = append(c.closers, base.CloseIdleConnections)
	httpClient := &http.Client{
		// No overall timeout: each attempt has its own (see retryTransport).
		Transport: &authTransport{client: c, next: &retryTransport{client: c, next: base}},
	}
	rt := httptransport.NewWithClient(res.managementURL.Host, res.managementURL.Path, []string{"https"}, httpClient)
	// The runtime's debug dump (DEBUG/SWAGGER_DEBUG) prints headers,
	// including the session token. Never allow it.
	rt.SetDebug(false)
	c.API = rest_management_api_client.New(rt, strfmt.Default)
	return c, nil
}

// URL is the management API URL in use.
func (c *Client) URL() string { return c.res.managementURL.String() }

// Stats returns the client's counters.
func (c *Client) Stats() *Stats { return &c.stats }

// Close releases idle connections and the Ziti context, if one was opened.
func (c *Client) Close() {
	for _, f := range c.closers {
		f()
	}
	if c.zctx.ctx != nil {
		c.zctx.ctx.Close()
	}
}

// Authenticate opens an API session now. It is called lazily by the
// transport; calling it directly surfaces credential errors early.
func (c *Client) Authenticate(ctx context.Context) error {
	_, err := c.session(ctx, "")
	return err
}

// SessionID returns the current API session's id, or "" before the first
// authentication. Tests use it to revoke the session out of band.
func (c *Client) SessionToken() string {
	if t := c.token.Load(); t != nil {
		return *t
	}
	return ""
}

// session returns a valid session token. stale is the token a request was
// rejected with: if it is still current, a new session is opened; if another
// goroutine already replaced it, the new one is reused. This keeps a burst of
// 401s from opening a burst of sessions.
func (c *Client) session(ctx context.Context, stale string) (string, error) {
	if t := c.token.Load(); t != nil && *t != stale {
		return *t, nil
	}
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if t := c.token.Load(); t != nil && *t != stale {
		return *t, nil
	}
	params := authentication.NewAuthenticateParamsWithContext(ctx)
	params.Method = c.res.method
	params.Auth = &rest_model.Authenticate{}
	if c.res.method == "password" {
		params.Auth.Username = rest_model.Username(c.cfg.Username)
		params.Auth.Password = rest_model.Password(c.cfg.Password)
	}
	resp, err := c.API.Authentication.Authenticate(params)
	if err != nil {
		return "", Explain(err, fmt.Sprintf("authenticating to %s with %s credentials", c.URL(), c.res.method))
	}
	if resp.Payload == nil || resp.Payload.Data == nil || resp.Payload.Data.Token == nil {
		return "", fmt.Errorf("%w: the controller returned no session token", ErrAuth)
	}
	tok := *resp.Payload.Data.Token
	c.token.Store(&tok)
	c.stats.Authentications.Add(1)
	c.log.DebugContext(ctx, "opened controller API session", "method", c.res.method, "authentications", c.stats.Authentications.Load())
	return tok, nil
}

// Named causes, so callers and tests can tell failures apart.
var (
	ErrAuth        = errors.New("authentication failed")
	ErrTLS         = errors.New("TLS verification of the controller failed")
	ErrUnreachable = errors.New("controller unreachable")
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")
	ErrRejected    = errors.New("rejected by the controller")
)
