package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentmesh/agentmesh/audit"
	"github.com/agentmesh/agentmesh/audit/follow"
	"github.com/agentmesh/agentmesh/reconciler"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

func newAudit() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Keep and question the audit trail: who reached what, under which grant, and which change granted or revoked it",
		Long: "agentmesh audit follow writes the trail: the controller's sessions, circuits and access changes (attributed to the apply " +
			"or reconcile that made them, and to the identity that wrote), and every LLM gateway front's requests, each joined with the " +
			"workgroups, contract and approval in force. why, activity and show answer from the trail alone.\n\n" +
			"Record shape and questions: docs/guides/audit.md.",
	}
	cmd.AddCommand(newAuditFollow(), newAuditWhy(), newAuditActivity(), newAuditShow())
	return cmd
}

func newAuditFollow() *cobra.Command {
	var (
		dir, logFormat  string
		stdout, verbose bool
		maxBytes        int64
		pull, settle    time.Duration
		lapse           time.Duration
	)
	cmd := &cobra.Command{
		Use:   "follow",
		Short: "Follow the network and append to the trail in --dir (JSON lines, rotated); resumes from its cursor after a restart",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError("--dir is required: the directory of the trail and its cursor")
			}
			log, err := logger(cmd.ErrOrStderr(), verbose, logFormat)
			if err != nil {
				return err
			}
			loaded, err := controller.ConfigFromEnv()
			if err != nil {
				return &exitCode{code: 1, err: err}
			}
			client, err := controller.New(cmd.Context(), loaded.Config, log)
			if err != nil {
				return &exitCode{code: 1, err: err}
			}
			defer client.Close()
			o := audit.Options{MaxBytes: maxBytes}
			if stdout {
				o.Tee = cmd.OutOrStdout()
			}
			trail, err := audit.Open(dir, o)
			if err != nil {
				return &exitCode{code: 1, err: err}
			}
			defer trail.Close()
			f := &follow.Follower{Engine: reconciler.New(client, log), Trail: trail, Log: log, PullEvery: pull, Settle: settle, RunLapse: lapse}
			if err := f.Run(cmd.Context()); err != nil {
				return &exitCode{code: 1, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "trail directory (created 0700; files 0600)")
	cmd.Flags().BoolVar(&stdout, "stdout", false, "also write every record to stdout, for a log shipper")
	cmd.Flags().Int64Var(&maxBytes, "max-bytes", audit.DefaultMaxBytes, "rotate the live file at this size")
	cmd.Flags().DurationVar(&pull, "pull-interval", 2*time.Second, "how often gateway agents are asked for new request facts")
	cmd.Flags().DurationVar(&settle, "settle", 300*time.Millisecond, "quiet time after changes before access is recomputed")
	cmd.Flags().DurationVar(&lapse, "run-lapse", 2*time.Minute, "an apply's or reconcile's claim on its identity's writes ends after this long without one")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log debug detail")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format on stderr: text or json")
	return cmd
}

// trailFlags are the flags of the commands that read a trail.
type trailFlags struct {
	dir, org, output string
}

func (t *trailFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.dir, "dir", "", "trail directory, or - to read records from stdin")
	cmd.Flags().StringVar(&t.org, "organization", "", "show only what this organisation may see: its identities' activity and activity on its endpoints and gateways")
	cmd.Flags().StringVar(&t.output, "output", "text", "text or json")
}

func (t *trailFlags) read(in io.Reader) ([]audit.Record, error) {
	if t.dir == "" {
		return nil, usageError("--dir is required")
	}
	if t.output != "text" && t.output != "json" {
		return nil, usageError("--output must be text or json, not %q", t.output)
	}
	var recs []audit.Record
	var err error
	if t.dir == "-" {
		recs, err = audit.ReadFrom(in)
	} else {
		recs, err = audit.Read(t.dir)
	}
	if err != nil {
		return nil, &exitCode{code: 1, err: err}
	}
	if t.org != "" {
		recs = audit.Visible(recs, t.org)
	}
	return recs, nil
}

func parseTime(flag, v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, usageError("--%s %q is not an RFC 3339 time (2026-12-04T10:00:00Z)", flag, v)
	}
	return t, nil
}

func newAuditWhy() *cobra.Command {
	var tf trailFlags
	var identity, service, at string
	cmd := &cobra.Command{
		Use:   "why",
		Short: "Why could --identity reach --service at --at: the workgroups, contract and approval that granted it, and the change that later revoked it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if identity == "" || service == "" {
				return usageError("--identity and --service are required (names or ids)")
			}
			when, err := parseTime("at", at, time.Now())
			if err != nil {
				return err
			}
			recs, err := tf.read(cmd.InOrStdin())
			if err != nil {
				return err
			}
			a := audit.Why(recs, identity, service, when)
			if tf.output == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(a)
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), a.String())
			return err
		},
	}
	tf.add(cmd)
	cmd.Flags().StringVar(&identity, "identity", "", "identity name or id")
	cmd.Flags().StringVar(&service, "service", "", "endpoint, gateway or service name, or service id")
	cmd.Flags().StringVar(&at, "at", "", "RFC 3339 time (default now)")
	return cmd
}

func newAuditActivity() *cobra.Command {
	var tf trailFlags
	var identity, from, to string
	cmd := &cobra.Command{
		Use:   "activity",
		Short: "What did --identity do between --from and --to: sessions, circuits, LLM requests and changes to its access",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if identity == "" {
				return usageError("--identity is required (name or id)")
			}
			t1, err := parseTime("from", from, time.Time{})
			if err != nil {
				return err
			}
			t2, err := parseTime("to", to, time.Now())
			if err != nil {
				return err
			}
			recs, err := tf.read(cmd.InOrStdin())
			if err != nil {
				return err
			}
			return printRecords(cmd.OutOrStdout(), tf.output, audit.Activity(recs, identity, t1, t2))
		},
	}
	tf.add(cmd)
	cmd.Flags().StringVar(&identity, "identity", "", "identity name or id")
	cmd.Flags().StringVar(&from, "from", "", "RFC 3339 time (default: the trail's start)")
	cmd.Flags().StringVar(&to, "to", "", "RFC 3339 time (default now)")
	return cmd
}

func newAuditShow() *cobra.Command {
	var tf trailFlags
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the trail (with --organization, only what that organisation may see)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			recs, err := tf.read(cmd.InOrStdin())
			if err != nil {
				return err
			}
			return printRecords(cmd.OutOrStdout(), tf.output, recs)
		},
	}
	tf.add(cmd)
	return cmd
}

func printRecords(w io.Writer, output string, recs []audit.Record) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		for _, r := range recs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range recs {
		if _, err := fmt.Fprintln(w, r.String()); err != nil {
			return err
		}
	}
	return nil
}
