// Package controller connects agentmesh to the Ziti controller's management
// API: TLS trust, authentication (password or certificate identity), one
// shared API session, transparent re-authentication and bounded retries.
package controller

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/openziti/identity"
)

// Config says how to reach and authenticate to one controller.
type Config struct {
	// URL of the controller. Either the management API
	// (https://host:port/edge/management/v1) or just https://host:port.
	URL string

	Username string
	Password string

	// IdentityJSON is a Ziti identity file's content (certificate auth).
	IdentityJSON []byte

	// CAPEM is the PEM bundle trusted for the controller's certificate.
	CAPEM []byte
	// FetchWellKnownCA trusts whatever the controller serves at
	// /.well-known/est/cacerts (trust on first use).
	FetchWellKnownCA bool
	// Insecure skips TLS verification entirely.
	Insecure bool

	// RequestTimeout bounds one HTTP request.
	RequestTimeout time.Duration
	// MaxRetries bounds retries of one request on transient failures.
	MaxRetries int
	// RetryMaxInterval caps the backoff between two retries.
	RetryMaxInterval time.Duration
}

// ErrConfig marks configuration that can never work; fix the configuration.
var ErrConfig = errors.New("invalid controller configuration")

// identityFile is the part of a Ziti identity file agentmesh reads.
type identityFile struct {
	ZtAPI  string          `json:"ztAPI"`
	ZtAPIs []string        `json:"ztAPIs"`
	ID     identity.Config `json:"id"`
}

// resolved is a Config turned into what the transport needs.
type resolved struct {
	managementURL *url.URL
	caPool        *x509.CertPool
	clientCert    *tls.Certificate
	method        string // "password" or "cert"
}

func (c *Config) identityFile() (*identityFile, error) {
	idf := &identityFile{}
	if err := json.Unmarshal(c.IdentityJSON, idf); err != nil {
		return nil, fmt.Errorf("%w: identity is not a Ziti identity JSON document: %w", ErrConfig, err)
	}
	return idf, nil
}

func (c *Config) resolve() (*resolved, error) {
	r := &resolved{}
	var idf *identityFile
	if len(c.IdentityJSON) > 0 {
		idf = &identityFile{}
		if err := json.Unmarshal(c.IdentityJSON, idf); err != nil {
			return nil, fmt.Errorf("%w: identity is not a Ziti identity JSON document: %w", ErrConfig, err)
		}
		if idf.ID.Cert == "" || idf.ID.Key == "" {
			return nil, fmt.Errorf("%w: identity has no id.cert or id.key; was it enrolled?", ErrConfig)
		}
		id, err := identity.LoadIdentity(idf.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: loading identity certificate and key: %w", ErrConfig, err)
		}
		r.clientCert = id.Cert()
		if idf.ID.CA != "" {
			r.caPool = id.CA()
		}
		r.method = "cert"
	}
	switch {
	case c.Username != "" || c.Password != "":
		if r.method != "" {
			return nil, fmt.Errorf("%w: set either username/password or an identity, not both", ErrConfig)
		}
		if c.Username == "" || c.Password == "" {
			return nil, fmt.Errorf("%w: username and password must be set together", ErrConfig)
		}
		r.method = "password"
	case r.method == "":
		return nil, fmt.Errorf("%w: no credentials: set username and password, or an identity file", ErrConfig)
	}

	raw := c.URL
	if raw == "" && idf != nil {
		raw = idf.ZtAPI
		if raw == "" && len(idf.ZtAPIs) > 0 {
			raw = idf.ZtAPIs[0]
		}
	}
	u, err := ManagementURL(raw)
	if err != nil {
		return nil, err
	}
	r.managementURL = u

	if len(c.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.CAPEM) {
			return nil, fmt.Errorf("%w: the CA bundle holds no PEM certificate", ErrConfig)
		}
		r.caPool = pool
	}
	return r, nil
}

// ManagementURL normalises a controller address to its management API URL.
// A client API URL from an identity file (/edge/client/v1) maps onto the
// management API of the same controller.
func ManagementURL(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("%w: no controller URL: set endpoint, or use an identity file that carries ztAPI", ErrConfig)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: controller URL %q is not an absolute URL like https://ctrl.example.com:1280", ErrConfig, raw)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("%w: controller URL %q must use https", ErrConfig, raw)
	}
	switch p := strings.TrimSuffix(u.Path, "/"); p {
	case "", "/edge/client/v1":
		u.Path = "/edge/management/v1"
	case "/edge/management/v1":
		u.Path = p
	default:
		return nil, fmt.Errorf("%w: controller URL %q has an unexpected path; use https://host:port or https://host:port/edge/management/v1", ErrConfig, raw)
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}
