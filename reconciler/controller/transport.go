package controller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"
)

const sessionHeader = "zt-session"

// authTransport adds the API session header and, when the controller
// rejects the session (expired, revoked), opens a new one and replays the
// request once.
type authTransport struct {
	client *Client
	next   http.RoundTripper
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/authenticate") {
		return t.next.RoundTrip(req)
	}
	body, err := bufferBody(req)
	if err != nil {
		return nil, err
	}
	tok, err := t.client.session(req.Context(), "")
	if err != nil {
		return nil, err
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		t.client.beforeWrite(req.Context())
	}
	resp, err := t.next.RoundTrip(withSession(req, body, tok))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	drain(resp)
	t.client.log.InfoContext(req.Context(), "controller rejected the API session; re-authenticating", "method", req.Method, "path", req.URL.Path)
	tok, err = t.client.session(req.Context(), tok)
	if err != nil {
		return nil, err
	}
	return t.next.RoundTrip(withSession(req, body, tok))
}

func withSession(req *http.Request, body []byte, tok string) *http.Request {
	r := req.Clone(req.Context())
	r.Header.Set(sessionHeader, tok)
	setBody(r, body)
	return r
}

// retryTransport retries transient failures with bounded exponential
// backoff. A request is retried only when replaying it cannot duplicate
// work: the connection never opened, the controller refused it (429), or
// the method is idempotent. A POST whose response was lost, or that was
// answered 502, 503 or 504 (a proxy in front of the controller may have
// forwarded it first), is not replayed here; the reconciler looks the
// object up before creating again. Each attempt has its own deadline
// (RequestTimeout); the loop is bounded by MaxRetries and the caller's
// context, never by one overall timeout.
type retryTransport struct {
	client *Client
	next   http.RoundTripper
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := bufferBody(req)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 100 * time.Millisecond
	bo.MaxInterval = t.client.cfg.RetryMaxInterval
	bo.MaxElapsedTime = 0 // bounded by MaxRetries instead
	bo.Reset()
	for attempt := 0; ; attempt++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if t.client.cfg.RequestTimeout > 0 {
			actx, cancel = context.WithTimeout(ctx, t.client.cfg.RequestTimeout)
		}
		r := req.Clone(actx)
		setBody(r, body)
		start := time.Now()
		resp, err := t.next.RoundTrip(r)
		t.client.stats.Requests.Add(1)
		if err == nil {
			// Read the whole answer here, so a body cut off mid-way is a
			// transport failure this loop can retry, not a decode error
			// deep in the generated client (and the attempt's deadline
			// can end with the attempt).
			err = bufferResponse(resp)
			if err != nil {
				resp = nil
			}
		}
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: no answer within %s", ErrAttemptTimeout, t.client.cfg.RequestTimeout)
		}
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.client.log.DebugContext(ctx, "management API request", "method", req.Method, "path", req.URL.Path, "status", status, "attempt", attempt+1, "duration_ms", time.Since(start).Milliseconds())

		retry, wait := false, time.Duration(0)
		switch {
		case err != nil:
			retry = transientNetErr(err, req.Method)
		case transientStatus(status, replayable(req)):
			retry, wait = true, retryAfter(resp.Header.Get("Retry-After"))
		}
		if !retry || attempt >= t.client.cfg.MaxRetries {
			return resp, err
		}
		if resp != nil {
			drain(resp)
		}
		next := bo.NextBackOff()
		if wait > next {
			next = min(wait, 30*time.Second)
		}
		t.client.stats.Retries.Add(1)
		t.client.log.InfoContext(ctx, "transient controller failure; retrying", "method", req.Method, "path", req.URL.Path, "status", status, "error", errString(err), "attempt", attempt+1, "max_retries", t.client.cfg.MaxRetries, "wait_ms", next.Milliseconds())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(next):
		}
	}
}

func transientStatus(status int, replayable bool) bool {
	switch status {
	case http.StatusTooManyRequests:
		return true
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		// A proxy may have forwarded a POST before failing.
		return replayable
	}
	return false
}

// replayable says whether sending the request twice cannot create
// anything twice: any method but POST, and the POST that opens an API
// session (a spare session harms nothing).
func replayable(req *http.Request) bool {
	return req.Method != http.MethodPost || strings.HasSuffix(req.URL.Path, "/authenticate")
}

// ErrAttemptTimeout means one attempt got no answer in time. For a POST
// the controller may still have acted, so it is not replayed blindly.
var ErrAttemptTimeout = fmt.Errorf("%w: the controller did not answer in time", ErrUnreachable)

func transientNetErr(err error, method string) bool {
	if errors.Is(err, ErrAttemptTimeout) {
		return method != http.MethodPost
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if isTLSError(err) {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true // nothing was sent
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	if method == http.MethodPost {
		return false
	}
	var ne net.Error
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne)
}

// retryAfter parses a Retry-After header (seconds or HTTP date).
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

func bufferBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	setBody(req, b)
	return b, nil
}

func setBody(r *http.Request, b []byte) {
	if b == nil {
		r.Body = http.NoBody
		r.GetBody = nil
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r.ContentLength = int64(len(b))
}

// maxResponse bounds one buffered answer; a page of 500 objects is far
// smaller.
const maxResponse = 64 << 20

func bufferResponse(resp *http.Response) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("reading the controller's answer: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	return nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
