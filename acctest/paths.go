package acctest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// RepoRoot finds the repository root from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "tools", "ziti", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root not found (no tools/ziti/go.mod above the working directory)")
		}
		dir = parent
	}
}

// Binary returns the path of a pinned tool built by `make tools`
// (bin/ziti, bin/tofu, bin/terraform). AGENTMESH_ZITI, AGENTMESH_TOFU and
// AGENTMESH_TERRAFORM override it.
func Binary(name string) (string, error) {
	if p := os.Getenv(map[string]string{"ziti": "AGENTMESH_ZITI", "tofu": "AGENTMESH_TOFU", "terraform": "AGENTMESH_TERRAFORM"}[name]); p != "" {
		return p, nil
	}
	return inBin(name, "run `make tools` (builds the pinned ziti, tofu and terraform once)")
}

// inBin is bin/<name>, or an error that says how to build it.
func inBin(name, remedy string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, "bin", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s not found at %s: %s", name, p, remedy)
	}
	return p, nil
}

// CLI is the Terraform CLI the tests drive: OpenTofu, or HashiCorp
// Terraform when AGENTMESH_TEST_CLI=terraform (make test runs the
// identity, governance and example tests with both).
func CLI() string {
	if os.Getenv("AGENTMESH_TEST_CLI") == "terraform" {
		return "terraform"
	}
	return "tofu"
}

// ProviderHost is the registry host the CLI resolves agentmesh/agentmesh
// against: each CLI has its own default registry.
func ProviderHost() string {
	if CLI() == "terraform" {
		return "registry.terraform.io"
	}
	return "registry.opentofu.org"
}

// DevOverrides is a CLI configuration that serves the provider binaries in
// bin through dev_overrides under both CLIs' addresses, so one
// configuration with source = "agentmesh/agentmesh" runs on either.
func DevOverrides(bin string) string {
	return fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"registry.opentofu.org/agentmesh/agentmesh\" = %q\n    \"registry.terraform.io/agentmesh/agentmesh\" = %q\n  }\n  direct {}\n}\n", bin, bin)
}

// Gateway returns the path of a real gateway binary (llm-gateway,
// mcp-gateway, mcp-tools, mcp-filesystem) built by `make gateways` from
// the pinned sources in shared/thirdparty.
func Gateway(name string) (string, error) {
	return inBin(name, "run `make gateways` (builds it from shared/thirdparty)")
}

// BuildStandIn builds the mcp-gateway stand-in (acctest/standin), which
// fills in the one thing the real mcp-gateway cannot do here without
// zrok: keep running as a long-lived process. It returns its path: the
// agent supervises it as a separate process. The stand-in is built to
// check every config it is given with the real gateway's loader too
// (bin/mcp-gateway), so it cannot accept what the real one refuses.
func BuildStandIn(dir, name string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	real, err := Gateway(name)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	build := exec.Command("go", "build", "-ldflags", "-X main.realGateway="+real, "-o", bin, "./acctest/standin/"+strings.ReplaceAll(name, "-", "")+"/cmd/"+name) //nolint:gosec // a fixed package of this repository
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the %s stand-in: %w\n%s", name, err, out)
	}
	return bin, nil
}
