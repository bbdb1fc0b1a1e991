package acctest_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/acctest/model"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/reconciler"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

func TestMain(m *testing.M) { acctest.Main(m) }

var engine = acctest.Engine

func exampleDir(t *testing.T, name string) string {
	t.Helper()
	root, err := acctest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "examples", name)
}

// canDial asks the controller what the named identity may dial.
func canDial(t *testing.T, e *reconciler.Engine, name string) []string {
	t.Helper()
	ctx := context.Background()
	o, err := e.FindIdentityByName(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Dialable(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

var macroPulseEndpoints = []string{"commodities-feed", "correlator", "equity-feed", "fx-feed", "narrator", "news-pulse", "search-trends", "weather-feed"}

// assertMacroPulse checks the scenario's isolation claims with the
// controller's own evaluation.
func assertMacroPulse(t *testing.T, e *reconciler.Engine) {
	t.Helper()
	if got := canDial(t, e, "pulse-agent"); !slices.Equal(got, macroPulseEndpoints) {
		t.Errorf("pulse-agent can dial %v, want every endpoint %v", got, macroPulseEndpoints)
	}
	for who, forbidden := range map[string][]string{
		"equity-feed":  {"news-pulse", "search-trends"},
		"news-pulse":   {"equity-feed", "fx-feed", "commodities-feed"},
		"weather-feed": {"equity-feed", "news-pulse", "correlator"},
	} {
		got := canDial(t, e, who)
		for _, f := range forbidden {
			if slices.Contains(got, f) {
				t.Errorf("%s can dial %s (all: %v)", who, f, got)
			}
		}
	}
}

// TestExample_macroPulse applies examples/macro-pulse as shipped, with the
// real tofu CLI, and checks its claims, its check blocks, a no-op re-plan
// and a clean destroy.
func TestExample_macroPulse(t *testing.T) {
	w, err := acctest.Shared.NewWorkspace(exampleDir(t, "macro-pulse"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, err := w.Run("apply", "-auto-approve", "-no-color", "-input=false")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Apply complete! Resources: 45 added") {
		t.Fatalf("unexpected apply:\n%s", out)
	}
	if strings.Contains(out, "Check block assertion failed") {
		t.Fatalf("a check block failed:\n%s", out)
	}
	e := engine(t)
	assertMacroPulse(t, e)
	out, err = w.Run("plan", "-no-color", "-input=false")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Plan: 0 to add, 0 to change, 0 to destroy") || strings.Contains(out, "Check block assertion failed") {
		t.Fatalf("re-plan is not clean:\n%s", out)
	}
	if _, err := w.Run("destroy", "-auto-approve", "-no-color", "-input=false"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.FindIdentityByName(context.Background(), "pulse-agent"); !controller.IsNotFound(err) {
		t.Fatalf("pulse-agent after destroy: %v", err)
	}
}

// TestExample_multiOrg applies examples/multi-org: the operator's state and
// one state per organisation, each owning only its own objects. The result
// is the same governed network as Macro Pulse.
func TestExample_multiOrg(t *testing.T) {
	w, err := acctest.Shared.NewWorkspace(exampleDir(t, "multi-org"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	order := []string{"operator", "markets-co", "weather-co", "signals-co", "analytics-co", "enterprise-client"}
	applied := []string{}
	t.Cleanup(func() {
		for i := len(applied) - 1; i >= 0; i-- {
			if _, err := w.In(applied[i]).Run("destroy", "-auto-approve", "-no-color", "-input=false"); err != nil {
				t.Errorf("destroy %s: %v", applied[i], err)
			}
		}
	})
	for _, root := range order {
		ws := w.In(root)
		if _, err := ws.Run("get", "-no-color"); err != nil {
			t.Fatal(err)
		}
		out, err := ws.Run("apply", "-auto-approve", "-no-color", "-input=false")
		if err != nil {
			t.Fatal(err)
		}
		applied = append(applied, root)
		if strings.Contains(out, "Check block assertion failed") {
			t.Fatalf("%s: a check block failed:\n%s", root, out)
		}
	}
	assertMacroPulse(t, engine(t))

	// enterprise-client leaves signals-channel from its own state alone.
	ws := w.In("enterprise-client")
	if _, err := ws.Run("destroy", "-auto-approve", "-no-color", "-input=false", "-target", `agentmesh_workgroup_membership.pulse["signals-channel"]`); err != nil {
		t.Fatal(err)
	}
	got := canDial(t, engine(t), "pulse-agent")
	if slices.Contains(got, "news-pulse") || !slices.Contains(got, "weather-feed") {
		t.Fatalf("after leaving signals-channel pulse-agent can dial %v", got)
	}
}

// TestExample_gateway applies examples/gateway in its two phases, with the
// packaged gateway agent started in between on the identity the first
// phase made, as `make demo` does.
func TestExample_gateway(t *testing.T) {
	up := model.Start("llama3")
	defer up.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	_ = l.Close()
	w, err := acctest.Shared.NewWorkspace(exampleDir(t, "gateway"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tokens := t.TempDir()
	vars := []string{"-var", "gateway_listen=" + listen, "-var", "local_model_url=" + up.URL, "-var", "enrollment_dir=" + tokens}
	run := func(args ...string) string {
		t.Helper()
		out, err := w.Run(append(args, vars...)...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Cleanup(func() {
		if _, err := w.Run(append([]string{"destroy", "-auto-approve", "-no-color", "-input=false"}, vars...)...); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	run("apply", "-auto-approve", "-no-color", "-input=false")
	// The example writes the one-time tokens to files for the hosts
	// (mode 0600); none may be in the state.
	b, err := os.ReadFile(filepath.Join(tokens, "gateway.jwt"))
	if err != nil {
		t.Fatalf("the example wrote no gateway token: %v", err)
	}
	jwt := acctest.Secret("gateway example enrollment token", string(b))
	for _, who := range []string{"gateway", "analyst"} {
		if st, err := os.Stat(filepath.Join(tokens, who+".jwt")); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s token file: %v %v", who, st, err)
		}
	}
	if state, err := os.ReadFile(filepath.Join(w.Dir, "terraform.tfstate")); err != nil || strings.Contains(string(state), jwt) {
		t.Fatalf("the state holds the enrollment token, or cannot be read: %v", err)
	}
	dir := t.TempDir()
	identity, _, err := acctest.Enroll(jwt, dir, "gateway")
	if err != nil {
		t.Fatal(err)
	}
	control, err := w.Run("output", "-raw", "control_service")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := acctest.Gateway("llm-gateway")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	defer func() { cancel(); <-done }()
	go func() {
		defer close(done)
		cfg := &agent.Config{Kind: "llm", IdentityFile: identity, ControlService: control, StateDir: filepath.Join(dir, "state"),
			Command: []string{bin, "run", "{config}"}, Listen: listen}
		if err := agent.Run(ctx, cfg, slog.New(slog.DiscardHandler)); err != nil && ctx.Err() == nil {
			t.Errorf("the gateway agent stopped: %v", err)
		}
	}()
	run("apply", "-auto-approve", "-no-color", "-input=false", "-var", "with_routes=true")
	gen, err := w.Run("output", "-raw", "route_applied_generation")
	if err != nil || strings.TrimSpace(gen) == "" || gen == "0" {
		t.Fatalf("the route was not reported applied: %q %v", gen, err)
	}
	if out := run("plan", "-no-color", "-input=false", "-detailed-exitcode", "-var", "with_routes=true"); !strings.Contains(out, "No changes") {
		t.Fatalf("the applied example is not converged:\n%s", out)
	}
	// Destroyed while the agent runs, so the route's removal reaches it.
	run("destroy", "-auto-approve", "-no-color", "-input=false", "-var", "with_routes=true")
}
