// Command bench measures the provider and the reconciler against a real
// controller with the real tofu CLI. Run it with `make bench`.
//
//  1. N identities: `tofu apply` next to the same creates made directly
//     through the management API with 10 workers, and the management-API
//     requests of a no-op `tofu plan`.
//  2. Macro Pulse at 10x (50 organisations, 80 agents and endpoints, 70
//     workgroups): apply time and requests, no-op plan requests, and the
//     requests of one reconcile pass over the converged network.
package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_model"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/acctest/faultproxy"
	"github.com/agentmesh/agentmesh/acctest/model"
	"github.com/agentmesh/agentmesh/reconciler"
)

//go:embed macro10x.tf
var macro10x string

func main() {
	n := flag.Int("n", 200, "identities in the first scenario")
	workers := flag.Int("workers", 10, "concurrent workers for the direct API run")
	copies := flag.Int("copies", 10, "copies of Macro Pulse in the second scenario")
	keep := flag.String("keep", "", "keep the workspaces and provider logs in this directory (to see where requests go)")
	flag.Parse()
	if err := run(*n, *workers, *copies, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n, workers, copies int, keep string) error {
	ctx := context.Background()
	work := keep
	if err := os.MkdirAll(work, 0o700); work != "" && err != nil {
		return err
	}
	if work == "" {
		dir, err := os.MkdirTemp("", "agentmesh-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	fmt.Println("starting a real controller and edge router...")
	ctrl, err := acctest.Start(ctx, acctest.StartOptions{})
	if err != nil {
		return err
	}
	defer ctrl.Stop()
	var f acctest.Figures
	// Requests are counted by a pass-through proxy in front of the
	// controller (no faults), so no run needs provider debug logs, which
	// would slow what is timed.
	proxy, err := faultproxy.Start(ctrl.Origin, ctrl.CAPEM, 1)
	if err != nil {
		return err
	}
	defer proxy.Close()
	proxyCA := filepath.Join(work, "proxy-ca.pem")
	if err := os.WriteFile(proxyCA, proxy.CAPEM, 0o600); err != nil {
		return err
	}
	counted := func(ws *acctest.Workspace, args ...string) (time.Duration, int, error) {
		before := proxy.Forwarded.Load()
		d, err := timed(ws.WithEnv("AGENTMESH_ENDPOINT="+proxy.URL, "AGENTMESH_CA_FILE="+proxyCA), args...)
		return d, int(proxy.Forwarded.Load() - before), err
	}

	// Scenario 1: N identities.
	ws, err := workspace(ctrl, work, "identities", fmt.Sprintf(`terraform {
  required_providers {
    agentmesh = { source = "agentmesh/agentmesh" }
  }
}
resource "agentmesh_identity" "b" {
  count        = %d
  name         = "bench-tf-${count.index}"
  organization = "bench"
}
`, n))
	if err != nil {
		return err
	}
	fmt.Printf("tofu apply of %d identities...\n", n)
	applyDur, err := timed(ws, "apply", "-auto-approve")
	if err != nil {
		return err
	}
	fmt.Printf("direct API creates of %d identities with %d workers...\n", n, workers)
	directDur, err := direct(ctx, ctrl, n, workers)
	if err != nil {
		return err
	}
	fmt.Printf("no-op tofu plan of %d identities...\n", n)
	_, planReq, err := counted(ws, "plan", "-detailed-exitcode")
	if err != nil {
		return fmt.Errorf("the plan after apply is not empty or failed: %w", err)
	}
	f.Add("n", "%d", n)
	f.Add("apply_s", "%.2f", applyDur.Seconds())
	f.Add("direct_s", "%.2f", directDur.Seconds())
	f.Add("apply_ratio", "%.2f", applyDur.Seconds()/directDur.Seconds())
	f.Add("noop_plan_requests", "%d", planReq)

	// Scenario 2: Macro Pulse at scale.
	ws, err = workspace(ctrl, work, "macro", macro10x)
	if err != nil {
		return err
	}
	copiesVar := fmt.Sprintf("-var=copies=%d", copies)
	fmt.Printf("tofu apply of Macro Pulse x%d...\n", copies)
	mpDur, mpReq, err := counted(ws, "apply", "-auto-approve", copiesVar)
	if err != nil {
		return err
	}
	_, mpPlanReq, err := counted(ws, "plan", "-detailed-exitcode", copiesVar)
	if err != nil {
		return fmt.Errorf("the Macro Pulse plan after apply is not empty or failed: %w", err)
	}
	fmt.Println("a gateway with two routes beside Macro Pulse, its agent running...")
	stopGateway, err := addGateway(ctx, ctrl, work)
	if err != nil {
		return err
	}
	defer stopGateway()
	c, err := ctrl.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	e := reconciler.New(c, nil)
	p, err := e.Reconcile(ctx)
	if err != nil {
		return err
	}
	if len(p.Changes) != 0 {
		return fmt.Errorf("reconcile found %d changes on a network tofu had just converged: %v", len(p.Changes), p.Changes)
	}
	recReq := c.Stats().Requests.Load()
	f.Add("mp_copies", "%d", copies)
	f.Add("mp_apply_s", "%.2f", mpDur.Seconds())
	f.Add("mp_apply_requests", "%d", mpReq)
	f.Add("mp_noop_plan_requests", "%d", mpPlanReq)
	f.Add("mp_reconcile_requests", "%d", recReq)

	fmt.Println()
	fmt.Printf("%-44s %10s\n", "measure", "value")
	rows := [][3]string{
		{"identities: tofu apply (s)", f.Get("apply_s"), ""},
		{"identities: direct API, 10 workers (s)", f.Get("direct_s"), ""},
		{"identities: apply / direct", f.Get("apply_ratio"), "goal <= 1.60"},
		{"identities: no-op plan API requests", f.Get("noop_plan_requests"), "goal O(N/500)"},
		{fmt.Sprintf("macro-pulse x%d: tofu apply via proxy (s)", copies), f.Get("mp_apply_s"), ""},
		{fmt.Sprintf("macro-pulse x%d: apply API requests", copies), f.Get("mp_apply_requests"), "goal <= 1200"},
		{fmt.Sprintf("macro-pulse x%d: no-op plan API requests", copies), f.Get("mp_noop_plan_requests"), "goal <= 14"},
		{fmt.Sprintf("macro-pulse x%d + gateway: reconcile pass requests", copies), f.Get("mp_reconcile_requests"), "goal <= 15"},
	}
	for _, r := range rows {
		fmt.Printf("%-44s %10s  %s\n", r[0], r[1], r[2])
	}
	fmt.Println(f.Line())
	return nil
}

func workspace(ctrl *acctest.Controller, work, name, tf string) (*acctest.Workspace, error) {
	src := filepath.Join(work, "src-"+name)
	if err := os.MkdirAll(src, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "main.tf"), []byte(tf), 0o600); err != nil {
		return nil, err
	}
	return ctrl.NewWorkspace(src, filepath.Join(work, name))
}

// timed runs one tofu command with provider debug logs and returns its wall
// time and the management-API requests the provider made.
// timed runs one tofu command with logging at its default level.
func timed(ws *acctest.Workspace, args ...string) (time.Duration, error) {
	start := time.Now()
	_, err := ws.Run(append(args, "-no-color", "-input=false")...)
	return time.Since(start), err
}

// direct creates n identities like the provider does (one POST each, with
// a one-time enrollment), through one shared client and `workers`
// goroutines.
func direct(ctx context.Context, ctrl *acctest.Controller, n, workers int) (time.Duration, error) {
	c, err := ctrl.Client(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.Authenticate(ctx); err != nil {
		return 0, err
	}
	jobs := make(chan int)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				body := &rest_model.IdentityCreate{
					Name: ptr(fmt.Sprintf("bench-direct-%d", i)), Type: rest_model.IdentityTypeDefault.Pointer(),
					IsAdmin: ptr(false), RoleAttributes: &rest_model.Attributes{"org.bench"},
					Tags:       &rest_model.Tags{SubTags: rest_model.SubTags{reconciler.TagManagedBy: "bench"}},
					Enrollment: &rest_model.IdentityCreateEnrollment{Ott: true},
				}
				if _, err := c.API.Identity.CreateIdentity(identity.NewCreateIdentityParamsWithContext(ctx).WithIdentity(body), nil); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return time.Since(start), first
}

func ptr[T any](v T) *T { return &v }

// addGateway registers an llm gateway beside the network, starts its agent
// (supervising the llm-gateway stand-in) and gives it two routes for two
// Macro Pulse workgroups, so the reconcile pass is measured with a
// gateway's data plane and table to check.
func addGateway(ctx context.Context, ctrl *acctest.Controller, work string) (func(), error) {
	c, err := ctrl.Client(ctx)
	if err != nil {
		return nil, err
	}
	e := reconciler.New(c, nil)
	var undo []func()
	stop := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		c.Close()
	}
	fail := func(err error) (func(), error) { stop(); return nil, err }
	bin, err := acctest.Gateway("llm-gateway")
	if err != nil {
		return fail(err)
	}
	up := model.Start("llama3")
	undo = append(undo, up.Close)
	o, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "bench-llm-agent", Organization: "analytics-co-0", Kind: reconciler.KindGateway})
	if err != nil {
		return fail(err)
	}
	_, cfg, err := acctest.Enroll(o.EnrollmentJWT, work, "bench-llm-agent")
	if err != nil {
		return fail(err)
	}
	gz, err := ziti.NewContext(cfg)
	if err != nil {
		return fail(err)
	}
	undo = append(undo, gz.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	listen := l.Addr().String()
	l.Close()
	if _, err := e.CreateGateway(ctx, &reconciler.Gateway{Name: "bench-llm", Kind: "llm", Identity: o.ID, Listen: listen, LocalBaseURL: up.URL}); err != nil {
		return fail(err)
	}
	_, stopAgent, err := acctest.StartLLMAgent(ctx, gz, "bench-llm", bin, filepath.Join(work, "gateway"), listen)
	if err != nil {
		return fail(err)
	}
	undo = append(undo, stopAgent)
	for _, r := range []*reconciler.LLMRoute{
		{Gateway: "bench-llm", Name: "chat", Model: "llama3", Workgroups: []string{"analytics-channel-0"}},
		{Gateway: "bench-llm", Name: "code", Model: "codellama", Workgroups: []string{"markets-channel-0", "signals-channel-0"}, BudgetTokens: 1000, BudgetPeriod: "day"},
	} {
		if _, _, err := e.CreateLLMRoute(ctx, r); err != nil {
			return fail(fmt.Errorf("route %s: %w", r.Name, err))
		}
	}
	return stop, nil
}
