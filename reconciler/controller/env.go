package controller

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ConfigFromEnv reads the AGENTMESH_* variables the provider also honours,
// so the standalone reconciler and Terraform share one way to connect.
func ConfigFromEnv() (Config, error) {
	cfg := Config{
		URL:              os.Getenv("AGENTMESH_ENDPOINT"),
		Username:         os.Getenv("AGENTMESH_USERNAME"),
		Password:         os.Getenv("AGENTMESH_PASSWORD"),
		CAPEM:            []byte(os.Getenv("AGENTMESH_CA_PEM")),
		IdentityJSON:     []byte(os.Getenv("AGENTMESH_IDENTITY_JSON")),
		MaxRetries:       8,
		FetchWellKnownCA: envBool("AGENTMESH_FETCH_WELL_KNOWN_CA"),
		Insecure:         envBool("AGENTMESH_INSECURE"),
	}
	if f := os.Getenv("AGENTMESH_IDENTITY_FILE"); f != "" && len(cfg.IdentityJSON) == 0 {
		b, err := os.ReadFile(ExpandHome(f))
		if err != nil {
			return cfg, fmt.Errorf("%w: reading AGENTMESH_IDENTITY_FILE: %w", ErrConfig, err)
		}
		cfg.IdentityJSON = b
	}
	if f := os.Getenv("AGENTMESH_CA_FILE"); f != "" && len(cfg.CAPEM) == 0 {
		b, err := os.ReadFile(ExpandHome(f))
		if err != nil {
			return cfg, fmt.Errorf("%w: reading AGENTMESH_CA_FILE: %w", ErrConfig, err)
		}
		cfg.CAPEM = b
	}
	if v := os.Getenv("AGENTMESH_MAX_RETRIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return cfg, fmt.Errorf("%w: AGENTMESH_MAX_RETRIES must be a non-negative integer", ErrConfig)
		}
		cfg.MaxRetries = n
	}
	return cfg, nil
}

func envBool(k string) bool {
	b, _ := strconv.ParseBool(os.Getenv(k))
	return b
}

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
