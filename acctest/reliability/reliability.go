// Package reliability is agentmesh's fault suite: it applies the Macro
// Pulse example with the real tofu CLI against a real controller while
// injecting faults (a 429/503/reset/truncation storm through a fault proxy,
// revoked API sessions, controller restarts, concurrent states, hand-deleted
// derived objects), then measures whether the network converged, and
// counts duplicates, orphans, lost state and leaked secrets.
package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"

	"github.com/openziti/edge-api/rest_management_api_client/api_session"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/reconciler"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// Options tunes a run.
type Options struct {
	Trials int
	Seed   uint64
	// Scenarios limits the run to these names; empty runs all.
	Scenarios []string
	Progress  io.Writer
}

// Row is one scenario's outcome.
type Row struct {
	Scenario   string
	Trials     int
	Converged  int
	Duplicates int
	Orphans    int
	Lost       int
	Retries    int
	Reauths    int
	// Errors counts trials that failed anywhere, cleanup included.
	Errors int
	Note   string
}

// Result is a run's table plus the secret scan.
type Result struct {
	Rows         []Row
	SecretsFound int
	SecretsKnown int
	LogBytes     int64
}

type env struct {
	ctx    context.Context
	ctrl   *acctest.Controller
	dir    string
	logDir string
	opts   Options
	root   string
	runs   atomic.Int64

	mu      sync.Mutex
	secrets map[string]string
	counted map[string]int
	engLog  *slog.Logger
	// enrolled holds the Ziti configs of identities the suite enrolled.
	enrolled map[string]*ziti.Config
}

// Run starts its own controller (persistent home, so it can restart) and
// runs the scenarios.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Trials < 1 {
		opts.Trials = 1
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	dir, err := os.MkdirTemp("", "agentmesh-reliability-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	home := filepath.Join(dir, "ctrl")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	ctrl, err := acctest.Start(ctx, acctest.StartOptions{Home: home})
	if err != nil {
		return nil, err
	}
	defer ctrl.Stop()
	root, err := acctest.RepoRoot()
	if err != nil {
		return nil, err
	}
	e := &env{ctx: ctx, ctrl: ctrl, dir: dir, logDir: filepath.Join(dir, "logs"), opts: opts, root: root,
		secrets: map[string]string{"admin password": ctrl.Password}, enrolled: map[string]*ziti.Config{}}
	if err := os.MkdirAll(e.logDir, 0o700); err != nil {
		return nil, err
	}
	lf, err := os.OpenFile(filepath.Join(e.logDir, "reconciler.log"), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	e.engLog = slog.New(slog.NewTextHandler(lf, &slog.HandlerOptions{Level: slog.LevelDebug}))

	res := &Result{}
	for _, s := range scenarios {
		if len(opts.Scenarios) > 0 && !contains(opts.Scenarios, s.name) {
			continue
		}
		row := Row{Scenario: s.name}
		for trial := range opts.Trials {
			fmt.Fprintf(opts.Progress, "%s: trial %d/%d\n", s.name, trial+1, opts.Trials)
			if err := s.run(e, trial, &row); err != nil {
				row.Errors++
				row.Note = err.Error()
				fmt.Fprintf(opts.Progress, "  %v\n", err)
			}
			row.Trials++
		}
		res.Rows = append(res.Rows, row)
	}
	e.collectSessionTokens()
	res.SecretsFound, res.SecretsKnown, res.LogBytes, err = e.scanLogs()
	return res, err
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// client is a direct admin connection (no faults) whose logs go to the
// reconciler log that the secret scan reads.
func (e *env) client() (*controller.Client, *reconciler.Engine, error) {
	c, err := controller.New(e.ctx, controller.Config{URL: e.ctrl.ManagementURL, Username: e.ctrl.Username,
		Password: e.ctrl.Password, CAPEM: e.ctrl.CAPEM, MaxRetries: 8}, e.engLog)
	if err != nil {
		return nil, nil, err
	}
	return c, reconciler.New(c, e.engLog), nil
}

// workspace prepares a fresh copy of an example.
func (e *env) workspace(example string) (*acctest.Workspace, error) {
	n := e.runs.Add(1)
	return e.ctrl.NewWorkspace(filepath.Join(e.root, "examples", example), filepath.Join(e.dir, fmt.Sprintf("ws-%d", n)))
}

// tofu runs one command with TRACE logging into the suite's log directory.
func (e *env) tofu(ws *acctest.Workspace, extra []string, args ...string) (string, error) {
	n := e.runs.Add(1)
	env := append(extra, "TF_LOG=TRACE", "TF_LOG_PATH="+filepath.Join(e.logDir, fmt.Sprintf("tofu-%04d-%s.log", n, args[0])))
	return ws.WithEnv(env...).Run(append(args, "-no-color", "-input=false")...)
}

// applyUntilDone applies up to three times: a run cut short by a fault is
// followed by a plain re-apply, as a user would.
func (e *env) applyUntilDone(ws *acctest.Workspace, extra []string) error {
	var err error
	for range 3 {
		if _, err = e.tofu(ws, extra, "apply", "-auto-approve"); err == nil {
			break
		}
	}
	if err != nil || extra == nil {
		return err
	}
	// A plan through the same faults must also get through.
	_, err = e.tofu(ws, extra, "plan")
	return err
}

type stateDoc struct {
	Values struct {
		RootModule struct {
			Resources []struct {
				Address string         `json:"address"`
				Type    string         `json:"type"`
				Values  map[string]any `json:"values"`
			} `json:"resources"`
		} `json:"root_module"`
	} `json:"values"`
}

// measure checks convergence and accounts for every agentmesh object.
func (e *env) measure(ws *acctest.Workspace, row *Row) error {
	out, err := e.tofu(ws, nil, "plan")
	if err != nil {
		return err
	}
	tfClean := strings.Contains(out, "Plan: 0 to add, 0 to change, 0 to destroy") || strings.Contains(out, "No changes.")
	c, eng, err := e.client()
	if err != nil {
		return err
	}
	defer c.Close()

	showOut, err := ws.Run("show", "-json")
	if err != nil {
		return err
	}
	var doc stateDoc
	if err := json.Unmarshal([]byte(showOut[strings.Index(showOut, "{"):]), &doc); err != nil {
		return fmt.Errorf("reading state: %w", err)
	}
	inState := map[string]bool{}
	var (
		resources []resource
		ids       []string
		endpoints []string
	)
	for _, r := range doc.Values.RootModule.Resources {
		resources = append(resources, resource{typ: r.Type, values: r.Values})
		switch r.Type {
		case "agentmesh_identity":
			ids = append(ids, str(r.Values["id"]))
		case "agentmesh_endpoint":
			endpoints = append(endpoints, str(r.Values["name"]))
		}
		if id, ok := r.Values["id"].(string); ok {
			inState[id] = true
		}
		if jwt, ok := r.Values["enrollment_jwt"].(string); ok && jwt != "" {
			e.addSecret("enrollment JWT of "+r.Address, jwt)
		}
	}
	// Converged: the plan is empty, the controller holds exactly the
	// policies and roles the state implies, and every identity lists
	// exactly the endpoints it may dial or hosts.
	w := expectFrom(resources)
	if len(endpoints) > 0 && (len(w.policies) == 0 || len(w.visible) == 0) {
		return fmt.Errorf("the state implies no policy or no access; the expectation proves nothing")
	}
	o, err := observe(c, ids)
	if err != nil {
		return err
	}
	diffs := w.differences(o)
	access, err := e.accessMatrix(resources, w, endpoints)
	if err != nil {
		return err
	}
	for _, d := range append(diffs, access...) {
		fmt.Fprintf(e.opts.Progress, "  not converged: %s\n", d)
	}
	if tfClean && len(diffs) == 0 && len(access) == 0 {
		row.Converged++
	}
	row.Duplicates += o.duplicates
	for _, k := range o.dupKeys {
		fmt.Fprintf(e.opts.Progress, "  duplicate: %s\n", k)
	}
	objs, err := eng.ManagedObjects(e.ctx)
	if err != nil {
		return err
	}
	onController := map[string]bool{}
	routers := 0
	for _, ob := range objs {
		onController[ob.ID] = true
		if ob.Intent && !inState[ob.ID] && !inState[ob.Owner] {
			row.Orphans++
			fmt.Fprintf(e.opts.Progress, "  orphan: %s %s (%s)\n", ob.Kind, ob.Name, ob.ID)
		}
		if strings.HasSuffix(ob.Kind, "router-policy") {
			routers++
		}
	}
	// Derived policies nothing in the state implies are orphans too.
	for name := range o.policies {
		if _, ok := w.policies[name]; !ok {
			row.Orphans++
			fmt.Fprintf(e.opts.Progress, "  orphan: service-policy %s\n", name)
		}
	}
	if len(endpoints) > 0 && routers < 2 {
		row.Lost++
	}
	for id := range inState {
		if !onController[id] {
			row.Lost++
		}
	}
	row.Retries += e.countInLogs("transient controller failure; retrying")
	row.Reauths += e.countInLogs("rejected the API session; re-authenticating")
	return nil
}

func (e *env) destroy(ws *acctest.Workspace) error {
	_, err := e.tofu(ws, nil, "destroy", "-auto-approve")
	return err
}

func (e *env) addSecret(what, v string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets[what] = v
}

// collectSessionTokens records every live API session token as a secret.
func (e *env) collectSessionTokens() {
	c, _, err := e.client()
	if err != nil {
		return
	}
	defer c.Close()
	l, err := c.API.APISession.ListAPISessions(api_session.NewListAPISessionsParamsWithContext(e.ctx).WithLimit(ptrInt(500)), nil)
	if err != nil {
		return
	}
	for _, s := range l.Payload.Data {
		if s.Token != nil && *s.Token != "" {
			e.addSecret("API session token "+*s.ID, *s.Token)
		}
	}
}

// countInLogs counts a marker in the logs written since the last call.
func (e *env) countInLogs(marker string) int {
	files, _ := filepath.Glob(filepath.Join(e.logDir, "*.log"))
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			n += strings.Count(string(b), marker)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counted == nil {
		e.counted = map[string]int{}
	}
	prev := e.counted[marker]
	e.counted[marker] = n
	return n - prev
}

// scanLogs looks for every known secret, and anything shaped like one, in
// every log the suite wrote.
func (e *env) scanLogs() (found, known int, bytes int64, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	findings, _, bytes, err := acctest.ScanLogs(e.logDir, e.secrets)
	for _, f := range findings {
		fmt.Fprintf(e.opts.Progress, "SECRET LEAK: %s in %s\n", f.What, filepath.Base(f.File))
	}
	return len(findings), len(e.secrets), bytes, err
}

// Print writes the result as a table.
func Print(w io.Writer, r *Result) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\ttrials\tconverged\tduplicates\torphans\tlost\terrors\tretries\tre-auths\tsecrets found\t")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", row.Scenario, row.Trials, row.Converged, row.Duplicates, row.Orphans, row.Lost, row.Errors, row.Retries, row.Reauths, r.SecretsFound)
	}
	tw.Flush()
	fmt.Fprintf(w, "secret scan: %d known secrets and 3 secret shapes (Ziti JWTs, zt-session values, private keys) looked for in %d bytes of TRACE and reconciler logs; %d found\n", r.SecretsKnown, r.LogBytes, r.SecretsFound)
	for _, row := range r.Rows {
		if row.Note != "" {
			fmt.Fprintf(w, "note %s: %s\n", row.Scenario, row.Note)
		}
	}
}

func ptrInt(v int64) *int64 { return &v }
