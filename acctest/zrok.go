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
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	z := &Zrok{Home: filepath.Join(dir, "home"), APIEndpoint: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), dir: dir, done: make(chan struct{})}
	if err := os.MkdirAll(z.Home, 0o700); err != nil {
		return nil, err
	}
	secret := randomSecret()
	z.adminSecret = secret
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
`, secret, ports[0], filepath.Join(dir, "zrok.db"), c.Origin, c.Username, c.Password)
	file := filepath.Join(dir, "zrok-ctrl.yml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	env := append(os.Environ(), "HOME="+filepath.Join(dir, "admin"), "ZROK2_ADMIN_TOKEN="+secret, "ZROK2_API_ENDPOINT="+z.APIEndpoint)
	run := func(env []string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, args...) //nolint:gosec // the pinned zrok2 binary
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("zrok2 %s: %w\n%s", args[0]+" "+args[1], err, out)
		}
		return string(out), nil
	}
	if _, err := run(env, "admin", "bootstrap", file); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "zrok-controller.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	z.ctrl = exec.Command(bin, "controller", file) //nolint:gosec // the pinned zrok2 binary
	z.ctrl.Env, z.ctrl.Stdout, z.ctrl.Stderr = env, logf, logf
	z.ctrl.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := z.ctrl.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { _ = z.ctrl.Wait(); logf.Close(); close(z.done) }()
	if err := z.waitAPI(ctx); err != nil {
		z.stop()
		return nil, err
	}
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

func (z *Zrok) waitAPI(ctx context.Context) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-z.done:
			return fmt.Errorf("the zrok controller exited; see %s", filepath.Join(z.dir, "zrok-controller.log"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := http.Get(z.APIEndpoint + "/api/v2/versions"); err == nil { //nolint:gosec,noctx // loopback test endpoint
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
