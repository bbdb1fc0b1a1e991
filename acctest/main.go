package acctest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agentmesh/agentmesh/reconciler"
)

// Shared is the controller of the running test binary, set by Main.
var Shared *Controller

var (
	secretsMu sync.Mutex
	secrets   = map[string]string{}
	logDir    string
)

// Secret registers a value a test hands to the provider as a secret (an
// API key, a header): the scan at the end of the run fails if any log of
// the run holds it. It returns the value.
func Secret(what, value string) string {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	secrets[what] = value
	return value
}

// LogFile is a file in the run's log directory that the secret scan
// reads, for in-process programs (gateway agents) a test starts.
func LogFile(name string) (*os.File, error) {
	if logDir == "" {
		return nil, fmt.Errorf("acctest: no log directory (is acctest.Main the TestMain?)")
	}
	return os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

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
	// Every tofu run and every in-process provider of the package logs at
	// TRACE into its own file, and all of it is scanned for secrets once
	// the tests are done.
	logs, err := os.MkdirTemp("", "agentmesh-trace-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "acctest:", err)
		return 1
	}
	defer os.RemoveAll(logs)
	logDir = logs
	os.Setenv("TF_LOG", "TRACE")
	os.Setenv("TF_LOG_PATH_MASK", filepath.Join(logs, "%s.log"))
	code := m.Run()
	if scanSecrets(c, logs) > 0 && code == 0 {
		code = 1
	}
	return code
}

// scanSecrets looks through every TRACE log of the run for the admin
// password, every live API session token and anything shaped like a secret.
func scanSecrets(c *Controller, dir string) int {
	known := map[string]string{"admin password": c.Password}
	secretsMu.Lock()
	for what, v := range secrets {
		known[what] = v
	}
	secretsMu.Unlock()
	if cl, err := c.Client(context.Background()); err == nil {
		for what, tok := range liveSessionTokens(cl) {
			known[what] = tok
		}
		cl.Close()
	}
	findings, files, bytes, err := ScanLogs(dir, known)
	if err != nil {
		fmt.Fprintln(os.Stderr, "acctest: secret scan:", err)
		return 1
	}
	ReportScan(os.Stderr, findings, files, bytes, len(known))
	return len(findings)
}

// SetupTofuEnv sets the variables terraform-plugin-testing reads. It owns
// TF_CLI_CONFIG_FILE: an inherited one may point at a missing file, which
// makes tofu print a warning the harness cannot parse.
func SetupTofuEnv() error {
	tofu, err := Binary(CLI())
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
	// The lane must run the CLI it names: a Terraform lane that ran tofu
	// would prove nothing.
	cmd := exec.Command(tofu, "version") //nolint:gosec // the pinned CLI
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+cli, "CHECKPOINT_DISABLE=1")
	out, err := cmd.Output()
	first := strings.SplitN(string(out), "\n", 2)[0]
	if err != nil {
		return fmt.Errorf("%s version: %w", tofu, err)
	}
	if want := map[string]string{"tofu": "OpenTofu v", "terraform": "Terraform v"}[CLI()]; !strings.HasPrefix(first, want) {
		return fmt.Errorf("%s does not report itself as %s: %q", tofu, want, first)
	}
	fmt.Fprintln(os.Stderr, "acctest: CLI", first)
	for k, v := range map[string]string{
		"TF_ACC":                    "1",
		"TF_ACC_TERRAFORM_PATH":     tofu,
		"TF_ACC_PROVIDER_HOST":      ProviderHost(),
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

// Engine returns an engine over a new admin client of the shared
// controller, closed when the test ends. Tests use it for direct checks
// and out-of-band edits, beside Terraform.
func Engine(t testing.TB) *reconciler.Engine {
	t.Helper()
	c, err := Shared.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return reconciler.New(c, nil)
}
