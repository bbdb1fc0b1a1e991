package acctest

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
)

// FreeAddr returns a loopback address nothing listens on.
func FreeAddr() (string, error) {
	ports, err := freePorts(1)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", ports[0]), nil
}

// LLMGateway is a real llm-gateway process started on a rendered table.
type LLMGateway struct {
	Addr string // loopback host:port it listens on
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
}

// Output is what the gateway printed so far.
func (g *LLMGateway) Output() string { return g.out.String() }

// Stop ends the gateway with SIGTERM, as the agent does.
func (g *LLMGateway) Stop() {
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

// StartLLMGateway renders t (its listen address is chosen here), writes it
// into dir and runs the real llm-gateway on it until it is healthy.
func StartLLMGateway(ctx context.Context, dir string, t *gateways.Table) (*LLMGateway, error) {
	bin, err := Gateway("llm-gateway")
	if err != nil {
		return nil, err
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	t.LLM.Listen = addr
	r, err := gateways.Render(t)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "llm-gateway.yaml")
	if err := gateways.WriteAtomic(file, r.YAML); err != nil {
		return nil, err
	}
	g := &LLMGateway{Addr: addr, out: &lockedBuffer{}, done: make(chan struct{})}
	g.cmd = exec.Command(bin, "run", file) //nolint:gosec // the pinned gateway binary
	g.cmd.Stdout, g.cmd.Stderr = g.out, g.out
	if err := g.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = g.cmd.Wait(); close(g.done) }()
	health := agent.HTTPHealth(addr)
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-g.done:
			return nil, fmt.Errorf("llm-gateway exited during start:\n%s", g.Output())
		case <-ctx.Done():
			g.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if health(ctx) == nil {
			return g, nil
		}
		if time.Now().After(deadline) {
			g.Stop()
			return nil, fmt.Errorf("llm-gateway did not become healthy in 20s:\n%s", g.Output())
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
