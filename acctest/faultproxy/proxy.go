// Package faultproxy is a TLS-terminating reverse proxy that sits between
// the provider and a real controller and injects faults: latency, bursts of
// 429/503 (with and without Retry-After), connection resets before and
// after the controller acted, and truncated answers. It serves its own
// certificate from its own CA, which the client under test trusts.
package faultproxy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Faults says what to inject. Probabilities are per request, 0..1.
type Faults struct {
	Latency time.Duration
	Jitter  time.Duration
	P429    float64
	P503    float64
	// RetryAfter adds `Retry-After: 1` to half of the injected 429/503s.
	RetryAfter bool
	// Burst repeats a chosen status fault for this many requests in a row.
	Burst int
	// PResetBefore drops the connection before forwarding; PResetAfter
	// forwards, lets the controller act, then drops the connection.
	PResetBefore float64
	PResetAfter  float64
	// PTruncate forwards, then sends only half of the answer.
	PTruncate float64
}

// Counts is what the proxy did.
type Counts struct {
	Forwarded, Injected429, Injected503, ResetsBefore, ResetsAfter, Truncated atomic.Int64
}

// Proxy is a running fault proxy.
type Proxy struct {
	URL   string
	CAPEM []byte
	Counts

	upstream *url.URL
	rt       http.RoundTripper
	srv      *http.Server
	ln       net.Listener

	mu     sync.Mutex
	faults Faults
	rng    *mrand.Rand
	burst  int
	burstS int
}

// Start listens on a free loopback port and forwards to upstream (an
// https origin), verifying it against upstreamCA.
func Start(upstream string, upstreamCA []byte, seed uint64) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(upstreamCA) {
		return nil, fmt.Errorf("upstream CA holds no certificate")
	}
	caPEM, cert, err := selfCA()
	if err != nil {
		return nil, err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		URL: "https://" + ln.Addr().String(), CAPEM: caPEM, upstream: u, ln: ln,
		rt:  &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 32},
		rng: mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Set replaces the faults to inject.
func (p *Proxy) Set(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults, p.burst = f, 0
}

// Close stops the proxy.
func (p *Proxy) Close() { _ = p.srv.Close() }

type action int

const (
	forward action = iota
	status429
	status503
	resetBefore
	resetAfter
	truncate
)

func (p *Proxy) decide() (action, time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults
	delay := f.Latency
	if f.Jitter > 0 {
		delay += time.Duration(p.rng.Int64N(int64(f.Jitter)))
	}
	if p.burst > 0 {
		p.burst--
		return action(p.burstS), delay, p.rng.IntN(2) == 0 && f.RetryAfter
	}
	x := p.rng.Float64()
	retryAfter := f.RetryAfter && p.rng.IntN(2) == 0
	for _, c := range []struct {
		p float64
		a action
	}{{f.P429, status429}, {f.P503, status503}, {f.PResetBefore, resetBefore}, {f.PResetAfter, resetAfter}, {f.PTruncate, truncate}} {
		if x < c.p {
			if (c.a == status429 || c.a == status503) && f.Burst > 1 {
				p.burst, p.burstS = f.Burst-1, int(c.a)
			}
			return c.a, delay, retryAfter
		}
		x -= c.p
	}
	return forward, delay, false
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	act, delay, retryAfter := p.decide()
	if delay > 0 {
		time.Sleep(delay)
	}
	switch act {
	case status429, status503:
		code, name := http.StatusTooManyRequests, "RATE_LIMITED"
		p.Injected429.Add(1)
		if act == status503 {
			code, name = http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE"
			p.Injected429.Add(-1)
			p.Injected503.Add(1)
		}
		if retryAfter {
			w.Header().Set("Retry-After", "1")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, `{"error":{"code":%q,"message":"injected by the fault proxy"},"meta":{}}`, name)
		return
	case resetBefore:
		p.ResetsBefore.Add(1)
		hangUp(w)
		return
	}
	resp, err := p.roundTrip(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	p.Forwarded.Add(1)
	switch act {
	case resetAfter:
		p.ResetsAfter.Add(1)
		hangUp(w)
		return
	case truncate:
		p.Truncated.Add(1)
		copyHeader(w.Header(), resp.header)
		w.Header().Set("Content-Length", strconv.Itoa(len(resp.body)))
		w.WriteHeader(resp.status)
		_, _ = w.Write(resp.body[:len(resp.body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		hangUp(w)
		return
	}
	copyHeader(w.Header(), resp.header)
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// answer is the controller's reply, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (p *Proxy) roundTrip(r *http.Request) (*answer, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host, out.Host = p.upstream.Scheme, p.upstream.Host, p.upstream.Host
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	resp, err := p.rt.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return &answer{status: resp.StatusCode, header: resp.Header, body: b}, err
}

func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			if tc, ok := c.(*tls.Conn); ok {
				if nc, ok := tc.NetConn().(*net.TCPConn); ok {
					_ = nc.SetLinger(0) // RST, not FIN
				}
			}
			_ = c.Close()
		}
	}
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		if k == "Content-Length" || k == "Connection" || k == "Transfer-Encoding" {
			continue
		}
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}

// selfCA makes a CA and a certificate for 127.0.0.1 signed by it.
func selfCA() ([]byte, tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "agentmesh fault proxy CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
