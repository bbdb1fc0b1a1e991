package acctest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Zrok is a local zrok (controller, one account, one enabled environment)
// on a test Ziti controller: mcp-gateway serves MCP only as a zrok share,
// and this is where it can, offline. Home is the HOME whose .zrok2 holds
// the enabled environment; the gateway and its clients run with it.
type Zrok struct {
	Home        string
	APIEndpoint string
	dir         string
	adminSecret string
	ctrl        *exec.Cmd
	done        chan struct{}
}

// zroks are the running zroks by controller: zrok can be bootstrapped
// onto a Ziti controller only once, so every test on a controller shares
// its zrok, which lives until the controller stops.
var (
	zrokMu sync.Mutex
	zroks  = map[*Controller]*Zrok{}
)

// StartZrok bootstraps zrok onto c (its identities, policies and config
// type), runs its controller, creates an account and enables an
// environment in a home of its own, all under c's home; or returns the
// zrok already running on c. It stops with c. A step that fails fails the
// start: tests never skip.
func StartZrok(ctx context.Context, c *Controller) (*Zrok, error) {
	zrokMu.Lock()
	defer zrokMu.Unlock()
	if z, ok := zroks[c]; ok {
		return z, nil
	}
	z, err := startZrok(ctx, c, filepath.Join(c.Home, "zrok"))
	if err != nil {
		return nil, err
	}
	zroks[c] = z
	return z, nil
}

// stopZrokOf stops c's zrok, if it runs one.
func stopZrokOf(c *Controller) {
	zrokMu.Lock()
	defer zrokMu.Unlock()
	if z, ok := zroks[c]; ok {
		z.stop()
		delete(zroks, c)
	}
}

func startZrok(ctx context.Context, c *Controller, dir string) (*Zrok, error) {
	bin, err := Gateway("zrok2")
	if err != nil {
		return nil, err
	}
	z := &Zrok{Home: filepath.Join(dir, "home"), dir: dir}
	if err := os.MkdirAll(z.Home, 0o700); err != nil {
		return nil, err
	}
	secret := randomSecret()
	z.adminSecret = secret
	file := filepath.Join(dir, "zrok-ctrl.yml")
	// The config names the API's port; it is written again, with a port
	// picked just before the controller starts, for each start below.
	writeConfig := func(port int) error {
		z.APIEndpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
		cfg := fmt.Sprintf(`v: 4
admin:
  secrets: [ %q ]
endpoint:
  host: 127.0.0.1
  port: %d
invites:
  invites_open: false
store:
  type: sqlite3
  path: %s
ziti:
  api_endpoint: %s
  username: %s
  password: %q
`, secret, port, filepath.Join(dir, "zrok.db"), c.Origin, c.Username, c.Password)
		return os.WriteFile(file, []byte(cfg), 0o600)
	}
	envOf := func() []string {
		return append(os.Environ(), "HOME="+filepath.Join(dir, "admin"), "ZROK2_ADMIN_TOKEN="+secret, "ZROK2_API_ENDPOINT="+z.APIEndpoint)
	}
	run := func(env []string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, args...) //nolint:gosec // the pinned zrok2 binary
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("zrok2 %s: %w\n%s", args[0]+" "+args[1], err, out)
		}
		return string(out), nil
	}
	if err := writeConfig(1); err != nil {
		return nil, err
	}
	if _, err := run(envOf(), "admin", "bootstrap", file); err != nil {
		return nil, err
	}
	// A port picked free can be taken by another process before the
	// controller binds it; the controller then exits saying so, and is
	// started again on another port.
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		if err := writeConfig(ports[0]); err != nil {
			return nil, err
		}
		err = z.serve(ctx, bin, file, envOf())
		if err == nil {
			break
		}
		if attempt == startsOnPortTaken || !portTaken(z.logFile()) {
			return nil, err
		}
	}
	env := envOf()
	out, err := run(env, "admin", "create", "account", "gateway@agentmesh.test", randomSecret())
	if err != nil {
		z.stop()
		return nil, err
	}
	token := lastLine(out)
	if _, err := run(append(env, "HOME="+z.Home), "enable", token, "--headless"); err != nil {
		z.stop()
		return nil, err
	}
	return z, nil
}

// serve starts the zrok controller on file and waits for its API.
func (z *Zrok) serve(ctx context.Context, bin, file string, env []string) error {
	logf, err := os.OpenFile(z.logFile(), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	z.done = make(chan struct{})
	cmd := exec.Command(bin, "controller", file) //nolint:gosec // the pinned zrok2 binary
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	z.ctrl = cmd
	done := z.done
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	if err := z.waitAPI(ctx); err != nil {
		z.stop()
		return err
	}
	return nil
}

func (z *Zrok) logFile() string { return filepath.Join(z.dir, "zrok-controller.log") }

func (z *Zrok) waitAPI(ctx context.Context) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-z.done:
			return fmt.Errorf("the zrok controller exited; see %s", z.logFile())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		// A port taken by another process may accept and never answer.
		if resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(z.APIEndpoint + "/api/v2/versions"); err == nil { //nolint:noctx // loopback test endpoint
			_ = resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the zrok controller did not answer on %s in 90s", z.APIEndpoint)
		}
	}
}

// ReserveShare creates a private share named token in the environment,
// without a backend: a gateway given it as its share serves on it, and it
// outlives the gateway's restarts. Private shares are closed: only this
// account (and accounts granted access) may use them.
func (z *Zrok) ReserveShare(ctx context.Context, token string) error {
	bin, err := Gateway("zrok2")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "create", "share", "--share-token", token, "--backend-mode", "proxy") //nolint:gosec // the pinned zrok2 binary
	cmd.Env = z.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("zrok2 create share: %w\n%s", err, out)
	}
	return nil
}

// Env is the environment a gateway or client runs with to use this zrok.
func (z *Zrok) Env() []string {
	return append(os.Environ(), "HOME="+z.Home, "ZROK2_API_ENDPOINT="+z.APIEndpoint)
}

// stop ends the zrok controller.
func (z *Zrok) stop() {
	if z.ctrl != nil && z.ctrl.Process != nil {
		_ = z.ctrl.Process.Signal(os.Interrupt)
		select {
		case <-z.done:
		case <-time.After(5 * time.Second):
			_ = z.ctrl.Process.Kill()
			<-z.done
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// SecondAccount creates another zrok account with an enabled environment
// of its own and returns the environment a client of that account runs
// with: what someone who learnt a share token, but is not the gateway's
// account, would have.
func (z *Zrok) SecondAccount(ctx context.Context, email string) ([]string, error) {
	bin, err := Gateway("zrok2")
	if err != nil {
		return nil, err
	}
	home := filepath.Join(z.dir, "home-"+strings.NewReplacer("@", "-", ".", "-").Replace(email))
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	env := append(os.Environ(), "HOME="+home, "ZROK2_API_ENDPOINT="+z.APIEndpoint)
	create := exec.CommandContext(ctx, bin, "admin", "create", "account", email, randomSecret()) //nolint:gosec // the pinned zrok2 binary
	create.Env = append(env, "ZROK2_ADMIN_TOKEN="+z.adminSecret)
	out, err := create.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("zrok2 admin create account: %w\n%s", err, out)
	}
	enable := exec.CommandContext(ctx, bin, "enable", lastLine(string(out)), "--headless") //nolint:gosec // the pinned zrok2 binary
	enable.Env = env
	if out, err := enable.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("zrok2 enable: %w\n%s", err, out)
	}
	return env, nil
}
