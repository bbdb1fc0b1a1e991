package acctest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Shared is the controller of the running test binary, set by Main.
var Shared *Controller

// Main starts one real controller for a test package, points the OpenTofu
// test environment at the pinned tofu, runs the tests and stops the
// controller. If the controller cannot start, the run fails: acceptance
// tests are never skipped.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := SetupTofuEnv(); err != nil {
		fmt.Fprintln(os.Stderr, "acctest:", err)
		return 1
	}
	c, err := Start(context.Background(), StartOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "acctest: cannot start the Ziti controller:", err)
		return 1
	}
	Shared = c
	defer c.Stop()
	if err := c.UseEnv(); err != nil {
		fmt.Fprintln(os.Stderr, "acctest:", err)
		return 1
	}
	return m.Run()
}

// SetupTofuEnv sets the variables terraform-plugin-testing reads. It owns
// TF_CLI_CONFIG_FILE: an inherited one may point at a missing file, which
// makes tofu print a warning the harness cannot parse.
func SetupTofuEnv() error {
	tofu, err := Binary("tofu")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "agentmesh-tofu-")
	if err != nil {
		return err
	}
	cli := filepath.Join(dir, "tofu.rc")
	if err := os.WriteFile(cli, []byte("# agentmesh test harness: no registries, no overrides\n"), 0o600); err != nil {
		return err
	}
	for k, v := range map[string]string{
		"TF_ACC":                    "1",
		"TF_ACC_TERRAFORM_PATH":     tofu,
		"TF_ACC_PROVIDER_HOST":      "registry.opentofu.org",
		"TF_ACC_PROVIDER_NAMESPACE": "agentmesh",
		"TF_CLI_CONFIG_FILE":        cli,
		"CHECKPOINT_DISABLE":        "1",
		"TF_IN_AUTOMATION":          "1",
	} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}
