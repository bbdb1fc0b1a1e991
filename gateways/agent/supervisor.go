package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/agentmesh/agentmesh/gateways"
)

// Report is what the agent tells the reconciler after a push.
type Report = gateways.Report

// Supervisor runs one gateway process and applies route tables to it. The
// gateways read their file once and have no reload: applying means
// rewriting the file and restarting the process with the signal its kind
// handles.
type Supervisor struct {
	Command []string // the gateway command; its config file is ConfigFile
	// Env is the gateway's environment; nil inherits the agent's. An
	// mcp-gateway needs the HOME that holds its enabled zrok environment.
	Env        []string
	ConfigFile string
	StopSignal os.Signal // SIGTERM for llm-gateway, SIGINT for mcp-gateway
	// Health reports the started gateway ready (llm-gateway's /health).
	Health func(context.Context) error
	// Ready is the line the gateway prints once it serves, for a gateway
	// without a health endpoint: mcp-gateway logs ReadyMCP after its
	// backends' tools are discovered and its share is up. A gateway that
	// exits first failed to start, whatever its exit code.
	Ready string
	// StartTimeout bounds a start. 0 derives it from the table: 15s for
	// llm-gateway; for mcp-gateway, which connects its backends one after
	// another before it serves, each backend's connect timeout plus 30s.
	StartTimeout time.Duration
	Log          *slog.Logger
	// OnRestart, if set, is called after the supervisor restarted a
	// gateway that died on its own (not after an Apply).
	OnRestart func()

	// status is the last applied report. It is written holding both mu
	// and smu, so the supervisor reads it under mu and status requests
	// under smu alone, without waiting for a start that holds mu.
	smu    sync.Mutex
	status Report
	// starting: a start is writing and trying a new config, so the file
	// differing from status is that start, not drift.
	starting bool

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	output   *outputTail
	lastGood []byte
	// lastSecrets are the secret values lastGood holds, lastTimeout how
	// long it may take to start.
	lastSecrets []string
	lastTimeout time.Duration
	starts      int
	lastStart   time.Duration
	stopped     bool
}

// StartDuration is how long the last successful start took, from exec to
// healthy: the gateway's own start time, which a route change pays on top
// of agentmesh's work.
func (s *Supervisor) StartDuration() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastStart
}

// Starts counts how often the gateway process was started.
func (s *Supervisor) Starts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts
}

// ShareToken is the zrok share the running mcp-gateway said it serves on
// (its own, or the reserved one it was given); empty when none.
func (s *Supervisor) ShareToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running() || s.output == nil {
		return ""
	}
	return s.output.shareToken()
}

// PID is the running gateway's process id, 0 when none runs.
func (s *Supervisor) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running() {
		return 0
	}
	return s.cmd.Process.Pid
}

// ReadyMCP is what mcp-gateway v0.1.3 logs once it serves its share.
const ReadyMCP = "serving mcp over zrok share"

// StopSignalFor is the signal each gateway kind shuts down cleanly on.
func StopSignalFor(kind string) os.Signal {
	if kind == gateways.KindMCP {
		return os.Interrupt // mcp-gateway v0.1.3 handles only SIGINT
	}
	return syscall.SIGTERM
}

// Applied is the last report of a successful apply. If the config file
// no longer holds what was applied (edited by hand), it says "drifted":
// the reconciler then pushes again, and the gateway is restarted on the
// file agentmesh renders.
func (s *Supervisor) Applied() Report {
	s.smu.Lock()
	r, starting := s.status, s.starting
	s.smu.Unlock()
	if r.Status == "applied" && !starting && s.fileSHA() != r.ConfigSHA256 {
		r.Status, r.Error = "drifted", "the gateway's config file was changed outside agentmesh"
	}
	return r
}

func (s *Supervisor) fileSHA() string {
	b, err := os.ReadFile(s.ConfigFile)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (s *Supervisor) setStarting(v bool) {
	s.smu.Lock()
	s.starting = v
	s.smu.Unlock()
}

// record keeps r as the applied report; the caller holds mu.
func (s *Supervisor) record(r Report) Report {
	s.smu.Lock()
	s.status = r
	s.smu.Unlock()
	return r
}

// startTimeout is how long t's gateway may take to start.
func (s *Supervisor) startTimeout(t *gateways.Table) time.Duration {
	if s.StartTimeout > 0 {
		return s.StartTimeout
	}
	if t.Kind != gateways.KindMCP {
		return 15 * time.Second
	}
	connect := 30 * time.Second // mcp-gateway's default
	if t.MCP != nil && t.MCP.ConnectTimeout != "" {
		if d, err := time.ParseDuration(t.MCP.ConnectTimeout); err == nil {
			connect = d
		}
	}
	return time.Duration(len(t.MCPRoutes))*connect + 30*time.Second
}

// Apply renders, writes and starts the table's configuration, rolling back
// to the last good one if it does not come up healthy. Applying the
// configuration already running is a no-op.
func (s *Supervisor) Apply(ctx context.Context, t *gateways.Table) Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = false
	log := s.log()
	if t.Kind == gateways.KindMCP && len(t.MCPRoutes) == 0 {
		return s.idle(ctx, t)
	}
	r, err := gateways.Render(t)
	if err != nil {
		return Report{Generation: t.Generation, Status: "rejected", Error: err.Error()}
	}
	if r.SHA256 == s.status.ConfigSHA256 && s.running() && s.fileSHA() == r.SHA256 {
		next := s.status
		next.Generation, next.TableDigest = t.Generation, t.Digest()
		return s.record(next)
	}
	timeout := s.startTimeout(t)
	if err := s.startWith(ctx, r.YAML, t.Sensitive(), timeout); err != nil {
		log.WarnContext(ctx, "new gateway config did not come up; rolling back", "generation", t.Generation, "error", err.Error())
		if s.lastGood != nil {
			if rerr := s.startWith(ctx, s.lastGood, s.lastSecrets, s.lastTimeout); rerr != nil {
				err = errors.Join(err, fmt.Errorf("rollback failed too: %w", rerr))
				s.stopLocked()
			}
		} else {
			// Nothing good to go back to: the failed config must not run.
			s.stopLocked()
		}
		return Report{Generation: t.Generation, ConfigSHA256: s.status.ConfigSHA256, Status: "rolled-back", Error: err.Error()}
	}
	s.lastGood, s.lastSecrets, s.lastTimeout = r.YAML, t.Sensitive(), timeout
	log.InfoContext(ctx, "gateway config applied", "generation", t.Generation, "sha256", r.SHA256)
	return s.record(Report{Generation: t.Generation, ConfigSHA256: r.SHA256, Status: "applied", TableDigest: t.Digest()})
}

// idle applies a table with nothing to serve: mcp-gateway cannot run
// without a backend, so the gateway is stopped and its config removed
// (the last route's removal must end what it served). An empty config
// hash marks the idle state.
func (s *Supervisor) idle(ctx context.Context, t *gateways.Table) Report {
	if err := t.Validate(); err != nil {
		return Report{Generation: t.Generation, Status: "rejected", Error: err.Error()}
	}
	s.stopLocked()
	s.lastGood = nil
	if err := os.Remove(s.ConfigFile); err != nil && !os.IsNotExist(err) {
		return Report{Generation: t.Generation, ConfigSHA256: s.status.ConfigSHA256, Status: "rolled-back", Error: err.Error()}
	}
	s.log().InfoContext(ctx, "no routes: the gateway is stopped", "generation", t.Generation)
	return s.record(Report{Generation: t.Generation, Status: "applied", TableDigest: t.Digest()})
}

func (s *Supervisor) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// watch restarts the last good config when the gateway dies on its own
// (crash, OOM kill, an operator's kill): the gateway has no supervisor of
// its own and the reconciler would only notice on its next pass. A process
// stopped or replaced by the supervisor is left alone.
func (s *Supervisor) watch(cmd *exec.Cmd, exited <-chan struct{}) {
	<-exited
	for delay := 200 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		s.mu.Lock()
		if s.cmd != cmd || s.stopped || s.lastGood == nil {
			s.mu.Unlock()
			return
		}
		s.log().Warn("the gateway exited on its own; starting the last good config again", "generation", s.status.Generation)
		err := s.startWith(context.Background(), s.lastGood, s.lastSecrets, s.lastTimeout)
		cmd = s.cmd // a failed start is ours to retry
		s.mu.Unlock()
		if err == nil {
			if s.OnRestart != nil {
				s.OnRestart()
			}
			return
		}
		s.log().Warn("restarting the gateway failed; retrying", "error", err.Error(), "in", delay.String())
		time.Sleep(delay)
	}
}

func (s *Supervisor) running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// startWith writes the config, restarts the process and waits until it
// is healthy (Health), says it serves (Ready), or exits.
func (s *Supervisor) startWith(ctx context.Context, cfg []byte, secrets []string, timeout time.Duration) error {
	s.setStarting(true)
	defer s.setStarting(false)
	if err := gateways.WriteAtomic(s.ConfigFile, cfg); err != nil {
		return err
	}
	s.stopLocked()
	cmd := exec.Command(s.Command[0], s.Command[1:]...) //nolint:gosec // the operator's own gateway command
	out := newOutputTail(s.Ready, secrets)
	cmd.Stdout, cmd.Stderr, cmd.Env = out, out, s.Env
	// Output is piped: a child the gateway leaves holding the pipes must
	// not keep Wait, and so a stop, from returning.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited, s.output = cmd, exited, out
	s.starts++
	began := time.Now()
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ready := out.ready
	for {
		select {
		case <-exited:
			return fmt.Errorf("the gateway exited during start%s", out.failure())
		case <-hctx.Done():
			return fmt.Errorf("the gateway did not become ready in %s: %w%s", timeout, hctx.Err(), out.failure())
		case <-ready:
			ready = nil // seen; from here on poll Health, if any
		case <-time.After(20 * time.Millisecond):
		}
		if s.healthy(hctx, out) && s.running() {
			s.lastStart = time.Since(began)
			go s.watch(cmd, exited) //nolint:gosec // the watcher outlives the apply that started the process
			return nil
		}
	}
}

func (s *Supervisor) healthy(ctx context.Context, out *outputTail) bool {
	if s.Ready != "" {
		select {
		case <-out.ready:
		default:
			return false
		}
	}
	return s.Health == nil || s.Health(ctx) == nil
}

// Stop ends the gateway process.
func (s *Supervisor) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	s.stopLocked()
}

// stopLocked ends the current process; its watcher sees it replaced.
func (s *Supervisor) stopLocked() {
	if !s.running() {
		s.cmd = nil
		return
	}
	defer func() { s.cmd = nil }()
	_ = s.cmd.Process.Signal(s.StopSignal)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// HTTPHealth checks a gateway's GET /health on addr (host:port).
func HTTPHealth(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/health", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health answered %d", resp.StatusCode)
		}
		return nil
	}
}
