package controller

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Settings are the connection settings as a user gives them: each field
// is nil where the configuration (the provider's HCL, a CLI flag) leaves
// it unset, and the AGENTMESH_* environment fills it in.
type Settings struct {
	Endpoint         *string
	Username         *string
	Password         *string
	IdentityFile     *string
	IdentityJSON     *string
	CAPEM            *string
	CAFile           *string
	FetchWellKnownCA *bool
	Insecure         *bool
	MaxRetries       *int64
	GatewayTimeout   *int64 // seconds
}

// Env is every variable Load reads, with what it sets.
var Env = [][2]string{
	{"AGENTMESH_ENDPOINT", "the controller's address, e.g. https://ctrl.example:1280"},
	{"AGENTMESH_USERNAME", "username for password authentication"},
	{"AGENTMESH_PASSWORD", "password for password authentication"},
	{"AGENTMESH_IDENTITY_FILE", "an enrolled Ziti identity file (certificate authentication)"},
	{"AGENTMESH_IDENTITY_JSON", "the content of such a file"},
	{"AGENTMESH_CA_PEM", "PEM bundle of the controller's CA(s)"},
	{"AGENTMESH_CA_FILE", "path of that bundle"},
	{"AGENTMESH_FETCH_WELL_KNOWN_CA", "true: trust the CA the controller serves (trust on first use)"},
	{"AGENTMESH_INSECURE", "true: do not verify the controller's certificate"},
	{"AGENTMESH_MAX_RETRIES", "retries of a request that failed for a transient cause (default 8, 0 to 50)"},
	{"AGENTMESH_GATEWAY_TIMEOUT_SECONDS", "how long a push waits for a gateway agent (default 30, 1 to 3600)"},
}

// Loaded is what Load resolves: the client's configuration and the
// engine's gateway timeout.
type Loaded struct {
	Config         Config
	GatewayTimeout time.Duration
}

// SettingError names the setting a problem is about, so the provider can
// point at the attribute and the CLI at the variable.
type SettingError struct {
	Setting string // endpoint, identity_file, ca_file, max_retries, ...
	Err     error
}

func (e *SettingError) Error() string { return e.Setting + ": " + e.Err.Error() }
func (e *SettingError) Unwrap() error { return e.Err }

// Load resolves settings the one way the provider and the CLI share. A
// setting the configuration gives beats the environment, and so does a
// group of alternatives: a configured identity_file, identity_json or
// username ignores every AGENTMESH_* credential, and a configured ca_pem
// or ca_file every AGENTMESH_* CA, so the environment can never swap what
// the configuration chose for something else.
func Load(s Settings, getenv func(string) string) (Loaded, error) {
	str := func(v *string, env string, ignoreEnv bool) string {
		if v != nil {
			return *v
		}
		if ignoreEnv {
			return ""
		}
		return getenv(env)
	}
	boolean := func(v *bool, env string) (bool, error) {
		if v != nil {
			return *v, nil
		}
		e := getenv(env)
		if e == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(e)
		if err != nil {
			return false, fmt.Errorf("%w: %s=%q is not true or false", ErrConfig, env, e)
		}
		return b, nil
	}
	integer := func(v *int64, env string, def, lo, hi int64, setting string) (int64, error) {
		n := def
		switch {
		case v != nil:
			n = *v
		case getenv(env) != "":
			p, err := strconv.ParseInt(getenv(env), 10, 64)
			if err != nil {
				return 0, &SettingError{setting, fmt.Errorf("%w: %s=%q is not a whole number", ErrConfig, env, getenv(env))}
			}
			n = p
		}
		if n < lo || n > hi {
			return 0, &SettingError{setting, fmt.Errorf("%w: %s must be between %d and %d, not %d", ErrConfig, setting, lo, hi, n)}
		}
		return n, nil
	}
	credsInConfig := s.IdentityFile != nil || s.IdentityJSON != nil || s.Username != nil || s.Password != nil
	caInConfig := s.CAPEM != nil || s.CAFile != nil
	var out Loaded
	c := &out.Config
	c.URL = str(s.Endpoint, "AGENTMESH_ENDPOINT", false)
	c.Username = str(s.Username, "AGENTMESH_USERNAME", credsInConfig)
	c.Password = str(s.Password, "AGENTMESH_PASSWORD", credsInConfig)
	c.CAPEM = []byte(str(s.CAPEM, "AGENTMESH_CA_PEM", caInConfig))
	c.IdentityJSON = []byte(str(s.IdentityJSON, "AGENTMESH_IDENTITY_JSON", credsInConfig))
	var err error
	if c.FetchWellKnownCA, err = boolean(s.FetchWellKnownCA, "AGENTMESH_FETCH_WELL_KNOWN_CA"); err != nil {
		return out, &SettingError{"fetch_well_known_ca", err}
	}
	if c.Insecure, err = boolean(s.Insecure, "AGENTMESH_INSECURE"); err != nil {
		return out, &SettingError{"insecure", err}
	}
	if c.Insecure && c.FetchWellKnownCA {
		return out, &SettingError{"insecure", fmt.Errorf("%w: set at most one of insecure and fetch_well_known_ca (also via AGENTMESH_INSECURE / AGENTMESH_FETCH_WELL_KNOWN_CA)", ErrConfig)}
	}
	if f := str(s.IdentityFile, "AGENTMESH_IDENTITY_FILE", credsInConfig); f != "" && len(c.IdentityJSON) == 0 {
		b, err := os.ReadFile(ExpandHome(f))
		if err != nil {
			return out, &SettingError{"identity_file", fmt.Errorf("%w: cannot read the identity file: %w", ErrConfig, err)}
		}
		c.IdentityJSON = b
	}
	if f := str(s.CAFile, "AGENTMESH_CA_FILE", caInConfig); f != "" && len(c.CAPEM) == 0 {
		b, err := os.ReadFile(ExpandHome(f))
		if err != nil {
			return out, &SettingError{"ca_file", fmt.Errorf("%w: cannot read the CA file: %w", ErrConfig, err)}
		}
		c.CAPEM = b
	}
	retries, err := integer(s.MaxRetries, "AGENTMESH_MAX_RETRIES", 8, 0, 50, "max_retries")
	if err != nil {
		return out, err
	}
	c.MaxRetries = int(retries)
	timeout, err := integer(s.GatewayTimeout, "AGENTMESH_GATEWAY_TIMEOUT_SECONDS", 30, 1, 3600, "gateway_timeout_seconds")
	if err != nil {
		return out, err
	}
	out.GatewayTimeout = time.Duration(timeout) * time.Second
	return out, nil
}

// ConfigFromEnv is Load from the environment alone, for programs without
// a configuration of their own.
func ConfigFromEnv() (Loaded, error) { return Load(Settings{}, os.Getenv) }

// ExpandHome turns a leading ~/ into the user's home directory, as the
// examples write paths.
func ExpandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}
