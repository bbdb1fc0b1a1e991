package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Access is how the agent reaches mcp-gateway's zrok share from the
// gateway host: a supervised `zrok2 access private <share> --bind
// 127.0.0.1:<port> --headless`, which serves the gateway's SSE endpoint on
// loopback. The zrok SDK would do the same in-process, but it pulls zrok's
// whole client (and a second copy of the Ziti SDK at another version) into
// the agent for one private access; the pinned zrok2 binary is already on
// every host that runs mcp-gateway.
//
// The access uses the zrok account of the environment in HOME (Env): the
// same one the gateway shares with. A share reserved in closed permission
// mode admits that account only.
type Access struct {
	Command string   // the zrok2 binary
	Env     []string // nil inherits the agent's
	// ReadyTimeout bounds one start (default 30s).
	ReadyTimeout time.Duration
	Log          *slog.Logger
	// OnAddr is told, holding the access's lock, where every access
	// started from here on serves: by Ensure, Renew or a restart after
	// the process died. The front sends new sessions there.
	OnAddr func(addr string)

	mu      sync.Mutex
	share   string
	serving int // the gateway start the access was made for
	addr    string
	cmd     *exec.Cmd
	exited  chan struct{}
	out     *outputTail
	began   time.Time
	stopped bool
}

// ErrNoZrokEnvironment marks a gateway host whose HOME holds no enabled
// zrok environment: neither mcp-gateway nor the access can run there.
var ErrNoZrokEnvironment = errors.New("no enabled zrok environment")

// ZrokEnvironment checks that home holds an enabled zrok environment
// (what `zrok2 enable` writes to $HOME/.zrok2/environment.json).
func ZrokEnvironment(home string) error {
	file := filepath.Join(home, ".zrok2", "environment.json")
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("%w: %s is missing (HOME=%s). Run `zrok2 enable <account token> --headless` as the gateway's user, or set env.HOME in the agent config to the home that holds it", ErrNoZrokEnvironment, file, home)
	}
	return nil
}

// Ensure makes sure an access to share serves on loopback and returns its
// host:port. start counts the gateway's process starts: an access made
// before the gateway last started is replaced, because zrok2's access
// does not find a share's backend again once it has restarted (the
// restart has ended every session anyway). An access made for this very
// process and share is kept.
func (a *Access) Ensure(ctx context.Context, share string, start int) (string, error) {
	if share == "" {
		return "", errors.New("the gateway named no zrok share it serves on")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = false
	if a.share == share && a.serving == start && a.running() {
		return a.addr, nil
	}
	a.stopLocked()
	if err := a.startLocked(ctx, share); err != nil {
		return "", err
	}
	a.serving = start
	return a.addr, nil
}

// Renew replaces the access with a new one to the same share, once per
// minDelay at most while one runs: an access that answers 502 while its
// gateway runs has lost the share for good (zrok2 keeps a stale API
// session) and never recovers by itself. An access that failed to start
// is tried again at once.
func (a *Access) Renew(ctx context.Context, minDelay time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped || a.share == "" || (a.running() && time.Since(a.began) < minDelay) {
		return nil
	}
	a.stopLocked()
	return a.startLocked(ctx, a.share)
}

func (a *Access) running() bool {
	if a.cmd == nil {
		return false
	}
	select {
	case <-a.exited:
		return false
	default:
		return true
	}
}

func (a *Access) log() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}

// accessReady is what zrok2 v2.0.0-rc7 logs once the controller granted
// the access and it serves on its --bind address.
const accessReady = "access the zrok share at the following endpoint"

// startLocked starts the access and waits until it says it serves and
// its port accepts connections. The port is picked free just before, so
// the signal, not just an open port, tells that zrok2 holds it.
func (a *Access) startLocked(ctx context.Context, share string) error {
	a.share = share // what a later Renew or restart reaches, even if this start fails
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(a.Command, "access", "private", share, "--bind", addr, "--headless") //nolint:gosec // the operator's zrok2 binary
	out := newOutputTail(accessReady, []string{share})
	cmd.Stdout, cmd.Stderr, cmd.Env = out, out, a.Env
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", a.Command, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	timeout := a.ReadyTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case <-exited:
			return fmt.Errorf("zrok2 access to the gateway's share exited during start%s", out.failure())
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-exited
			return ctx.Err()
		case <-deadline.C:
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("zrok2 access to the gateway's share did not serve on %s in %s%s", addr, timeout, out.failure())
		case <-time.After(50 * time.Millisecond):
		}
		if !out.saidReady() {
			continue
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			break
		}
	}
	a.addr, a.cmd, a.exited, a.out, a.began = addr, cmd, exited, out, time.Now()
	if a.OnAddr != nil {
		a.OnAddr(addr)
	}
	go a.watch(cmd, exited) //nolint:gosec // the watcher outlives the apply that started the access
	return nil
}

// watch starts the access again when it dies on its own: until then
// every identity's data plane answers 502.
func (a *Access) watch(cmd *exec.Cmd, exited <-chan struct{}) {
	<-exited
	for delay := 200 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		a.mu.Lock()
		if a.cmd != cmd || a.stopped {
			a.mu.Unlock()
			return
		}
		a.log().Warn("the zrok access to the gateway's share exited on its own; starting it again")
		err := a.startLocked(context.Background(), a.share)
		a.mu.Unlock()
		if err == nil {
			return
		}
		a.log().Warn("restarting the zrok access failed; retrying", "error", err.Error(), "in", delay.String())
		time.Sleep(delay)
	}
}

// Stop ends the access.
func (a *Access) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = true
	a.stopLocked()
}

func (a *Access) stopLocked() {
	if !a.running() {
		a.cmd = nil
		return
	}
	_ = a.cmd.Process.Signal(os.Interrupt)
	select {
	case <-a.exited:
	case <-time.After(5 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
	a.cmd = nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
