// Command agentmesh runs the reconciler outside Terraform, and the gateway
// agent beside a gateway. `agentmesh --help` lists the commands and the
// AGENTMESH_* variables they connect with.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/internal/sdklog"
	"github.com/agentmesh/agentmesh/reconciler"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitCode carries a command's exit status through cobra: 1 for an
// error, 2 for bad usage or (with --detailed-exitcode) changes.
type exitCode struct {
	code int
	err  error
}

func (e *exitCode) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func usageError(format string, a ...any) error {
	return &exitCode{code: 2, err: fmt.Errorf(format, a...)}
}

// execute runs the command line args and returns the exit status.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ec *exitCode
	if errors.As(err, &ec) {
		if ec.err != nil {
			fmt.Fprintln(stderr, "agentmesh:", ec.err)
		}
		return ec.code
	}
	// cobra's own errors: unknown commands and flags.
	fmt.Fprintln(stderr, "agentmesh:", err)
	fmt.Fprintln(stderr, "Run 'agentmesh --help' for usage.")
	return 2
}

// run and runAgent are the subcommands on their own (the tests call them).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, append([]string{"reconcile"}, args...), stdout, stderr)
}

func runAgent(ctx context.Context, args []string, stderr io.Writer) int {
	return execute(ctx, append([]string{"gateway-agent"}, args...), io.Discard, stderr)
}

func envHelp() string {
	var b strings.Builder
	b.WriteString("Connection settings (reconcile), the same the Terraform provider reads:\n")
	for _, e := range controller.Env {
		fmt.Fprintf(&b, "  %-34s %s\n", e[0], e[1])
	}
	return b.String()
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "agentmesh",
		Short: "Reconcile a governed AI-agent network on OpenZiti, and run gateway agents",
		Long: "agentmesh keeps an OpenZiti controller matching the intent agentmesh's Terraform provider recorded " +
			"(repairing drift on derived policies, roles and gateway data planes) and runs the agent beside an AI gateway.\n\n" + envHelp(),
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("agentmesh {{.Version}}\n")
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print agentmesh's version",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintf(cmd.OutOrStdout(), "agentmesh %s\n", version) },
	})
	root.AddCommand(newReconcile(), newGatewayAgent(), newEndpointGuard(), newAudit())
	// Flag errors are usage errors (exit 2), as for the commands' own checks.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%w", err) })
	return root
}

type reconcileFlags struct {
	once, watch, dryRun, detailed, verbose bool
	interval                               time.Duration
	output, logFormat                      string
}

func newReconcile() *cobra.Command {
	var f reconcileFlags
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Repair drift between the recorded intent and the controller (one pass, or --watch)",
		Long: "reconcile observes every intent and derived object, applies what differs, and re-pushes route tables " +
			"to gateways whose running table differs. With --dry-run it only prints the changes and the access diff.\n\n" +
			"--output json prints one JSON object per pass:\n" +
			"  {\"dry_run\": bool, \"changes\": [{\"action\", \"kind\", \"name\", \"detail\", \"owner\"}],\n" +
			"   \"access\": {\"gained\": [{\"identity\", \"target\"}], \"lost\": [...]}, \"problems\": [string], \"repushed\": [gateway]}\n\n" +
			envHelp(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return reconcile(cmd.Context(), &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.once, "once", false, "run one pass and exit (the default)")
	fl.BoolVar(&f.watch, "watch", false, "repeat every --interval until interrupted")
	fl.DurationVar(&f.interval, "interval", 30*time.Second, "time between passes with --watch")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the changes and the access diff; change nothing")
	fl.BoolVar(&f.detailed, "detailed-exitcode", false, "exit 0 when nothing would change (or changed), 2 when something would (or did), 1 on error")
	fl.BoolVar(&f.verbose, "verbose", false, "log every management API request")
	fl.StringVar(&f.output, "output", "text", "text or json (the change list and the access diff)")
	fl.StringVar(&f.logFormat, "log-format", "text", "text or json (the logs on stderr)")
	return cmd
}

func newGatewayAgent() *cobra.Command {
	var (
		file, logFormat string
		verbose         bool
	)
	cmd := &cobra.Command{
		Use:   "gateway-agent --config agent.yaml",
		Short: "Run beside a gateway: bind its dark control service, apply pushed route tables, serve the LLM data plane",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stderr := cmd.ErrOrStderr()
			if file == "" {
				return usageError("gateway-agent: --config is required")
			}
			log, err := logger(stderr, verbose, logFormat)
			if err != nil {
				return err
			}
			cfg, err := agent.LoadConfig(file)
			if err != nil {
				return usageError("gateway-agent: %w", err)
			}
			sdklog.Quiet(stderr)
			if err := agent.Run(cmd.Context(), cfg, log); err != nil && cmd.Context().Err() == nil {
				return &exitCode{code: 1, err: fmt.Errorf("gateway-agent: %w", err)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "config", "", "the agent's configuration file (YAML)")
	cmd.Flags().BoolVar(&verbose, "verbose", false, "log at debug level")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "text or json")
	return cmd
}

func reconcile(ctx context.Context, f *reconcileFlags, stdout, stderr io.Writer) error {
	switch {
	case f.once && f.watch:
		return usageError("--once and --watch exclude each other")
	case f.detailed && f.watch:
		return usageError("--detailed-exitcode needs a single pass; it excludes --watch")
	case f.output != "text" && f.output != "json":
		return usageError("--output must be text or json, not %q", f.output)
	}
	log, err := logger(stderr, f.verbose, f.logFormat)
	if err != nil {
		return err
	}
	loaded, err := controller.ConfigFromEnv()
	if err != nil {
		return &exitCode{code: 1, err: err}
	}
	client, err := controller.New(ctx, loaded.Config, log)
	if err != nil {
		return &exitCode{code: 1, err: err}
	}
	defer client.Close()
	engine := reconciler.New(client, log)
	engine.SetGatewayTimeout(loaded.GatewayTimeout)

	changed := false
	pass := func() error {
		// Every pass observes the controller afresh: between passes,
		// anything may have changed.
		engine.Reset()
		engine.MarkRuns("reconcile")
		before := client.Stats().Requests.Load()
		var plan *reconciler.Plan
		if f.dryRun {
			plan, err = engine.PlanChanges(ctx)
		} else {
			plan, err = engine.Reconcile(ctx)
		}
		var pushed []string
		if err == nil && !f.dryRun {
			// Gateways read their config once: one that restarted or
			// missed a push gets its table again.
			pushed, err = engine.RepushGateways(ctx)
		}
		if plan != nil {
			if werr := report(stdout, f.output, plan, pushed, f.dryRun); werr != nil && err == nil {
				err = werr
			}
			changed = changed || len(plan.Changes) > 0 || len(pushed) > 0
		}
		log.Info("pass finished", "changes", lenChanges(plan), "requests", client.Stats().Requests.Load()-before, "dry_run", f.dryRun)
		return err
	}
	if !f.watch {
		if err := pass(); err != nil {
			return &exitCode{code: 1, err: err}
		}
		if f.detailed && changed {
			return &exitCode{code: 2}
		}
		return nil
	}
	for {
		if err := pass(); err != nil {
			log.Error("pass failed; retrying next interval", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil
			}
			return &exitCode{code: 1, err: ctx.Err()}
		case <-time.After(f.interval):
		}
	}
}

func lenChanges(p *reconciler.Plan) int {
	if p == nil {
		return 0
	}
	return len(p.Changes)
}

// passJSON is the documented shape of --output json (see reconcile --help).
type passJSON struct {
	DryRun   bool         `json:"dry_run"`
	Changes  []changeJSON `json:"changes"`
	Access   accessJSON   `json:"access"`
	Problems []string     `json:"problems"`
	Repushed []string     `json:"repushed"`
}

type changeJSON struct {
	Action string `json:"action"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Detail string `json:"detail,omitempty"`
	Owner  string `json:"owner,omitempty"`
}

type accessJSON struct {
	Gained []grantJSON `json:"gained"`
	Lost   []grantJSON `json:"lost"`
}

type grantJSON struct {
	Identity string `json:"identity"`
	Target   string `json:"target"` // an endpoint, or "llm <gateway>"
}

// report prints a plan for review: the writes, then whose access changes.
func report(w io.Writer, output string, p *reconciler.Plan, pushed []string, dryRun bool) error {
	if output == "json" {
		out := passJSON{DryRun: dryRun, Changes: []changeJSON{}, Access: accessJSON{Gained: []grantJSON{}, Lost: []grantJSON{}},
			Problems: append([]string{}, p.Problems...), Repushed: append([]string{}, pushed...)}
		for _, c := range p.Changes {
			out.Changes = append(out.Changes, changeJSON{Action: c.Action, Kind: c.Kind, Name: c.Name, Detail: c.Detail, Owner: c.Owner})
		}
		grant := func(g reconciler.Grant) grantJSON {
			id, target, _ := strings.Cut(p.Describe(g), " -> ")
			return grantJSON{Identity: id, Target: target}
		}
		for _, g := range p.Gained {
			out.Access.Gained = append(out.Access.Gained, grant(g))
		}
		for _, g := range p.Lost {
			out.Access.Lost = append(out.Access.Lost, grant(g))
		}
		return json.NewEncoder(w).Encode(out)
	}
	verb := "applied"
	if dryRun {
		verb = "would apply"
	}
	if len(p.Changes) == 0 {
		fmt.Fprintln(w, "No changes: derived objects match the declared intent.")
	} else {
		fmt.Fprintf(w, "%d change(s) %s:\n", len(p.Changes), verb)
		for _, c := range p.Changes {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
	if len(p.Gained)+len(p.Lost) > 0 {
		fmt.Fprintln(w, "Access diff (identity -> endpoint, or llm <gateway>):")
		for _, g := range p.Gained {
			fmt.Fprintf(w, "  + %s\n", p.Describe(g))
		}
		for _, g := range p.Lost {
			fmt.Fprintf(w, "  - %s\n", p.Describe(g))
		}
	}
	for _, pr := range p.Problems {
		fmt.Fprintf(w, "  ! %s\n", pr)
	}
	for _, g := range pushed {
		fmt.Fprintf(w, "Re-pushed the route table to gateway %s.\n", g)
	}
	return nil
}

// logger writes logs to w as text or JSON lines, at debug level when
// verbose.
func logger(w io.Writer, verbose bool, format string) (*slog.Logger, error) {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError("--log-format must be text or json, not %q", format)
}
