package controller

import (
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// roundTripFunc is a fake transport built from a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func status(code int, hdr ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader("{}"))}
}

var (
	errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	errReset   = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
)

func TestRetryTransport(t *testing.T) {
	type step struct {
		resp      int
		hdr       []string
		err       error
		truncated bool
		hang      bool // no answer until the attempt's deadline
	}
	cases := []struct {
		name         string
		method       string
		steps        []step // answers in order; the last repeats
		wantAttempts int
		wantStatus   int
		wantErr      bool
	}{
		{"429 then success honours Retry-After", http.MethodPost, []step{{resp: 429, hdr: []string{"Retry-After", "0"}}, {resp: 429}, {resp: 201}}, 3, 201, false},
		{"503 storm is bounded", http.MethodGet, []step{{resp: 503}}, 4, 503, false},
		{"503 on POST may have been forwarded", http.MethodPost, []step{{resp: 503}, {resp: 201}}, 1, 503, false},
		{"connection refused is retried even for POST", http.MethodPost, []step{{err: errRefused}, {resp: 201}}, 2, 201, false},
		{"reset after sending a POST is not replayed", http.MethodPost, []step{{err: errReset}, {resp: 201}}, 1, 0, true},
		{"reset on GET is replayed", http.MethodGet, []step{{err: errReset}, {resp: 200}}, 2, 200, false},
		{"502 on POST may have been forwarded", http.MethodPost, []step{{resp: 502}, {resp: 201}}, 1, 502, false},
		{"502 on PATCH is replayed", http.MethodPatch, []step{{resp: 502}, {resp: 200}}, 2, 200, false},
		{"TLS failure is permanent", http.MethodGet, []step{{err: x509.UnknownAuthorityError{}}, {resp: 200}}, 1, 0, true},
		{"400 is an answer, not a failure", http.MethodPost, []step{{resp: 400}, {resp: 201}}, 1, 400, false},
		{"answer cut off on GET is replayed", http.MethodGet, []step{{resp: 200, truncated: true}, {resp: 200}}, 2, 200, false},
		{"answer cut off on POST is not replayed", http.MethodPost, []step{{resp: 201, truncated: true}, {resp: 201}}, 1, 0, true},
		{"a silent attempt ends at its own deadline and a GET goes on", http.MethodGet, []step{{hang: true}, {hang: true}, {resp: 200}}, 3, 200, false},
		{"a silent POST is not replayed", http.MethodPost, []step{{hang: true}, {resp: 201}}, 1, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Three attempts of 40 ms each outlast one RequestTimeout: the
			// deadline is per attempt, not for the whole loop.
			c := &Client{cfg: Config{MaxRetries: 3, RetryMaxInterval: time.Millisecond, RequestTimeout: 40 * time.Millisecond}, log: slog.New(slog.DiscardHandler)}
			attempts := 0
			var bodies []string
			rt := &retryTransport{client: c, next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				b, _ := io.ReadAll(r.Body)
				bodies = append(bodies, string(b))
				s := tc.steps[min(attempts, len(tc.steps)-1)]
				attempts++
				if s.err != nil {
					return nil, s.err
				}
				if s.hang {
					<-r.Context().Done()
					return nil, r.Context().Err()
				}
				answer := status(s.resp, s.hdr...)
				if s.truncated {
					answer.Body = io.NopCloser(io.MultiReader(strings.NewReader(`{"data":`), errReader{io.ErrUnexpectedEOF}))
				}
				return answer, nil
			})}
			req, _ := http.NewRequest(tc.method, "https://ctrl.example/edge/management/v1/identities", strings.NewReader(`{"name":"a"}`))
			resp, err := rt.RoundTrip(req)
			if resp != nil {
				defer resp.Body.Close()
			}
			if attempts != tc.wantAttempts {
				t.Errorf("attempts = %d, want %d", attempts, tc.wantAttempts)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && tc.steps[0].hang && !errors.Is(err, ErrAttemptTimeout) {
				t.Fatalf("a silent attempt: %v, want ErrAttemptTimeout", err)
			}
			if resp != nil && resp.StatusCode != tc.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			for i, b := range bodies {
				if b != `{"name":"a"}` {
					t.Errorf("attempt %d sent body %q; a replay must resend the same body", i+1, b)
				}
			}
			if got := c.stats.Retries.Load(); got != int64(tc.wantAttempts-1) {
				t.Errorf("retries counted = %d, want %d", got, tc.wantAttempts-1)
			}
		})
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestAuthenticateIsReplayed: opening an API session twice creates
// nothing a user manages, so a 503 on /authenticate is retried like a GET.
func TestAuthenticateIsReplayed(t *testing.T) {
	c := &Client{cfg: Config{MaxRetries: 3, RetryMaxInterval: time.Millisecond}, log: slog.New(slog.DiscardHandler)}
	attempts := 0
	rt := &retryTransport{client: c, next: roundTripFunc(func(*http.Request) (*http.Response, error) {
		attempts++
		if attempts == 1 {
			return status(503), nil
		}
		return status(200), nil
	})}
	req, _ := http.NewRequest(http.MethodPost, "https://ctrl.example/edge/management/v1/authenticate?method=password", strings.NewReader(`{}`))
	resp, err := rt.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 || attempts != 2 {
		t.Fatalf("authenticate after a 503: %v %v after %d attempts", resp, err, attempts)
	}
	resp.Body.Close()
}

func TestRetryAfter(t *testing.T) {
	if d := retryAfter("2"); d != 2*time.Second {
		t.Errorf("seconds: %v", d)
	}
	if d := retryAfter(time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)); d < time.Second || d > 3*time.Second {
		t.Errorf("date: %v", d)
	}
	for _, v := range []string{"", "soon", "-1"} {
		if d := retryAfter(v); d != 0 {
			t.Errorf("%q: %v", v, d)
		}
	}
}

func TestManagementURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://ctrl:1280":                     "https://ctrl:1280/edge/management/v1",
		"https://ctrl:1280/":                    "https://ctrl:1280/edge/management/v1",
		"https://ctrl:1280/edge/client/v1":      "https://ctrl:1280/edge/management/v1",
		"https://ctrl:1280/edge/management/v1/": "https://ctrl:1280/edge/management/v1",
	} {
		u, err := ManagementURL(in)
		if err != nil || u.String() != want {
			t.Errorf("%s -> %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"", "ctrl:1280", "http://ctrl:1280", "https://ctrl:1280/other"} {
		if _, err := ManagementURL(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("%q: want ErrConfig, got %v", bad, err)
		}
	}
}

func TestResolveCredentials(t *testing.T) {
	cases := map[string]Config{
		"no credentials":            {URL: "https://c:1"},
		"username without password": {URL: "https://c:1", Username: "a"},
		"identity not JSON":         {URL: "https://c:1", IdentityJSON: []byte("nope")},
		"identity never enrolled":   {URL: "https://c:1", IdentityJSON: []byte(`{"ztAPI":"https://c:1","id":{}}`)},
		"CA bundle without PEM":     {URL: "https://c:1", Username: "a", Password: "b", CAPEM: []byte("garbage")},
	}
	for name, cfg := range cases {
		if _, err := cfg.resolve(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: want ErrConfig, got %v", name, err)
		}
	}
}

func TestExpandHome(t *testing.T) {
	t.Setenv("HOME", "/home/ops")
	for in, want := range map[string]string{"~/.agentmesh/id.json": "/home/ops/.agentmesh/id.json", "/etc/id.json": "/etc/id.json", "rel/id.json": "rel/id.json", "~other/x": "~other/x"} {
		if got := ExpandHome(in); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
}
