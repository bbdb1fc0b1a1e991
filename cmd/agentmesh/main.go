// Command agentmesh runs the reconciler outside Terraform:
//
//	agentmesh reconcile --once       one pass: repair drift on derived objects, then exit
//	agentmesh reconcile --watch      repeat every --interval until interrupted
//	agentmesh reconcile --dry-run    print the changes and the access diff, change nothing
//	    --detailed-exitcode          like terraform plan: 0 nothing to change, 2 changes, 1 error
//	agentmesh gateway-agent --config agent.yaml
//	                                 run beside a gateway: bind its dark control service,
//	                                 apply pushed route tables, serve the LLM data plane
//
// It connects like the provider, through the AGENTMESH_* environment
// variables (AGENTMESH_ENDPOINT, AGENTMESH_IDENTITY_FILE or
// AGENTMESH_USERNAME/AGENTMESH_PASSWORD, AGENTMESH_CA_FILE, ...).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/internal/sdklog"
	"github.com/agentmesh/agentmesh/reconciler"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

const usage = `usage:
  agentmesh reconcile [--once | --watch [--interval 30s]] [--dry-run] [--detailed-exitcode] [--verbose]
  agentmesh gateway-agent --config agent.yaml [--verbose]`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "reconcile":
		os.Exit(run(ctx, os.Args[2:], os.Stdout, os.Stderr))
	case "gateway-agent":
		os.Exit(runAgent(ctx, os.Args[2:], os.Stderr))
	}
	fmt.Fprintln(os.Stderr, usage)
	os.Exit(2)
}

// runAgent is the packaged gateway agent.
func runAgent(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("gateway-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "the agent's configuration file (YAML)")
	verbose := fs.Bool("verbose", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *file == "" {
		fmt.Fprintln(stderr, "gateway-agent: --config is required")
		return 2
	}
	log := logger(stderr, *verbose)
	cfg, err := agent.LoadConfig(*file)
	if err != nil {
		fmt.Fprintln(stderr, "gateway-agent:", err)
		return 2
	}
	sdklog.Quiet(stderr)
	if err := agent.Run(ctx, cfg, log); err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, "gateway-agent:", err)
		return 1
	}
	return 0
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	once := fs.Bool("once", false, "run one pass and exit (the default)")
	watch := fs.Bool("watch", false, "repeat every --interval until interrupted")
	interval := fs.Duration("interval", 30*time.Second, "time between passes with --watch")
	dryRun := fs.Bool("dry-run", false, "print the changes and the access diff; change nothing")
	verbose := fs.Bool("verbose", false, "log every management API request")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 when nothing would change (or changed), 2 when something would (or did), 1 on error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *once && *watch {
		fmt.Fprintln(stderr, "--once and --watch exclude each other")
		return 2
	}
	if *detailed && *watch {
		fmt.Fprintln(stderr, "--detailed-exitcode needs a single pass; it excludes --watch")
		return 2
	}
	log := logger(stderr, *verbose)

	cfg, err := controller.ConfigFromEnv()
	if err != nil {
		fmt.Fprintln(stderr, "agentmesh:", err)
		return 1
	}
	client, err := controller.New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "agentmesh:", err)
		return 1
	}
	defer client.Close()
	engine := reconciler.New(client, log)

	changed := false
	pass := func() error {
		// Every pass observes the controller afresh: between passes,
		// anything may have changed.
		engine.Reset()
		before := client.Stats().Requests.Load()
		var (
			plan *reconciler.Plan
			err  error
		)
		if *dryRun {
			plan, err = engine.PlanChanges(ctx)
		} else {
			plan, err = engine.Reconcile(ctx)
		}
		if plan != nil {
			report(stdout, plan, *dryRun)
			changed = changed || len(plan.Changes) > 0
		}
		if err == nil && !*dryRun {
			// Gateways read their config once: one that restarted or
			// missed a push gets its table again.
			var pushed []string
			pushed, err = engine.RepushGateways(ctx)
			for _, g := range pushed {
				fmt.Fprintf(stdout, "Re-pushed the route table to gateway %s.\n", g)
			}
			changed = changed || len(pushed) > 0
		}
		log.Info("pass finished", "changes", lenChanges(plan), "requests", client.Stats().Requests.Load()-before, "dry_run", *dryRun)
		return err
	}
	if !*watch {
		if err := pass(); err != nil {
			fmt.Fprintln(stderr, "agentmesh:", err)
			return 1
		}
		if *detailed && changed {
			return 2
		}
		return 0
	}
	for {
		if err := pass(); err != nil {
			log.Error("pass failed; retrying next interval", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return 0
			}
			return 1
		case <-time.After(*interval):
		}
	}
}

func lenChanges(p *reconciler.Plan) int {
	if p == nil {
		return 0
	}
	return len(p.Changes)
}

// report prints a plan for review: the writes, then whose access changes.
func report(w io.Writer, p *reconciler.Plan, dryRun bool) {
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
}

// logger writes text logs to w, at debug level when verbose.
func logger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
