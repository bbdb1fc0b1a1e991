package agent_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// gatewayBin is the binary the agent supervises (acctest.SupervisedGateway).
func gatewayBin(t *testing.T, name string) string {
	t.Helper()
	bin, err := acctest.SupervisedGateway(t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func table(gen int64, listen string) *gateways.Table {
	return &gateways.Table{Gateway: "sup", Kind: gateways.KindLLM, Generation: gen,
		LLM:       &gateways.LLMSettings{Listen: listen, Local: &gateways.LocalProvider{BaseURL: "http://127.0.0.1:9"}},
		LLMRoutes: []gateways.LLMRoute{{Name: "chat", Model: "llama3"}},
		Keys:      []gateways.VirtualKey{{Identity: "a", Key: "sk-gw-x", AllowedModels: []string{"llama3"}}}}
}

func TestSupervisorAppliesAndRollsBack(t *testing.T) {
	bin := gatewayBin(t, "llm-gateway")
	dir := t.TempDir()
	file := filepath.Join(dir, "llm.yaml")
	listen := freePort(t)
	health := agent.HTTPHealth(listen)
	s := &agent.Supervisor{Command: []string{bin, "run", file}, ConfigFile: file, StopSignal: agent.StopSignalFor(gateways.KindLLM), Health: health}
	defer s.Stop()
	ctx := context.Background()

	r := s.Apply(ctx, table(1, listen))
	if r.Status != "applied" || r.Generation != 1 || len(r.ConfigSHA256) != 64 {
		t.Fatalf("first apply: %+v", r)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v, want 0600", st.Mode().Perm())
	}
	// An invalid table changes nothing.
	bad := table(2, listen)
	bad.LLMRoutes[0].Model = "claude-3"
	if r := s.Apply(ctx, bad); r.Status != "rejected" || health(ctx) != nil {
		t.Fatalf("invalid table: %+v", r)
	}
	// A config that cannot start (its port is taken) rolls back.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if r := s.Apply(ctx, table(3, taken.Addr().String())); r.Status != "rolled-back" || r.Error == "" {
		t.Fatalf("unstartable config: %+v", r)
	}
	if err := health(ctx); err != nil {
		t.Fatalf("the last good config is not serving after the rollback: %v", err)
	}
	if got := s.Applied(); got.Generation != 1 {
		t.Fatalf("applied %+v, want generation 1 still", got)
	}
	// The same routes again restart nothing and acknowledge the generation.
	starts := s.Starts()
	if r := s.Apply(ctx, table(4, listen)); r.Status != "applied" || r.Generation != 4 {
		t.Fatalf("re-apply: %+v", r)
	}
	if s.Starts() != starts {
		t.Fatalf("re-applying the running config restarted the gateway (%d -> %d starts)", starts, s.Starts())
	}

	// A hand-edited config file is reported as drift, and the same table
	// applied again restores the file and restarts the gateway on it.
	if err := os.WriteFile(file, []byte("listen: 0.0.0.0:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := s.Applied(); got.Status != "drifted" {
		t.Fatalf("hand-edited config reported as %+v", got)
	}
	if r := s.Apply(ctx, table(5, listen)); r.Status != "applied" || s.Starts() != starts+1 {
		t.Fatalf("repair of a drifted file: %+v, %d starts (want %d)", r, s.Starts(), starts+1)
	}
	if got := s.Applied(); got.Status != "applied" {
		t.Fatalf("after the repair: %+v", got)
	}
	starts = s.Starts()
	// A gateway that dies on its own is started again with the last good
	// config, without a push.
	pid := s.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.PID() == pid || s.PID() == 0 || health(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the killed gateway was not restarted (pid %d, now %d, health %v)", pid, s.PID(), health(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := s.Applied(); got.Generation != 5 || s.Starts() != starts+1 {
		t.Fatalf("after the restart: %+v, %d starts (want %d)", got, s.Starts(), starts+1)
	}
	// Stopped on purpose, it stays stopped.
	s.Stop()
	time.Sleep(500 * time.Millisecond)
	if s.PID() != 0 || health(ctx) == nil {
		t.Fatal("a gateway stopped by the supervisor was started again")
	}
}

// TestStatusAnswersDuringAStart: a status request is answered with the
// last applied report while a new config is still starting (an
// mcp-gateway discovering slow backends), not after the start ends.
func TestStatusAnswersDuringAStart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mcp.yml")
	// A gateway that says it serves, unless its config names a backend
	// "never": then it keeps starting until the start times out.
	script := `grep -q "id: never" "$0" || echo "` + agent.ReadyMCP + `"; exec sleep 60`
	s := &agent.Supervisor{Command: []string{"sh", "-c", script, file}, ConfigFile: file, StopSignal: agent.StopSignalFor(gateways.KindMCP),
		Ready: agent.ReadyMCP, StartTimeout: 5 * time.Second}
	defer s.Stop()
	ctx := context.Background()
	if r := s.Apply(ctx, mcpTable(1, "github")); r.Status != "applied" {
		t.Fatalf("first apply: %+v", r)
	}
	done := make(chan gateways.Report, 1)
	go func() { done <- s.Apply(ctx, mcpTable(2, "never")) }()
	time.Sleep(300 * time.Millisecond) // the second start is under way
	if got := s.Applied(); got.Status != "applied" || got.Generation != 1 {
		t.Fatalf("status during the start: %+v", got)
	}
	select {
	case r := <-done:
		t.Fatalf("the start ended (%+v) before the status was read; this test proves nothing", r)
	default:
	}
	if r := <-done; r.Status != "rolled-back" || !strings.Contains(r.Error, "did not become ready") {
		t.Fatalf("a start that never became ready: %+v", r)
	}
	if got := s.Applied(); got.Generation != 1 {
		t.Fatalf("after the rollback: %+v", got)
	}
}
