package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/openziti/sdk-golang/ziti"
	"github.com/spf13/cobra"

	"github.com/agentmesh/agentmesh/guard"
)

func newEndpointGuard() *cobra.Command {
	var (
		identity, endpoint, forward, logFormat string
		verbose                                bool
	)
	cmd := &cobra.Command{
		Use:   "endpoint-guard --identity host.json --endpoint NAME --forward 127.0.0.1:PORT",
		Short: "Host an endpoint behind its contract: enforce message size, count, types and session duration",
		Long: "endpoint-guard binds the endpoint's dark service with its host's enrolled identity and forwards every " +
			"session to the agent's local port, enforcing the endpoint's contract as the network delivers it with the " +
			"service: max_message_bytes, max_message_count, allowed_message_types and max_duration_seconds.\n\n" +
			"Framing: newline-delimited JSON, one message per line, each an object with a string \"type\" " +
			"({\"type\":\"quote.request\",...}). A message's size is its line without the newline. What the agent sends " +
			"back passes unread. A session that breaks a term is closed after one last line to the dialer:\n" +
			"  {\"type\":\"agentmesh.session.closed\",\"reason\":\"contract_violation: max_message_bytes\"}\n" +
			"(reasons: max_message_bytes, max_message_count, allowed_message_types, max_duration_seconds, framing).\n" +
			"Without max_message_bytes a message is still capped at 16 MiB.\n\n" +
			"The identity must be the endpoint's host: another identity is refused.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if identity == "" || endpoint == "" || forward == "" {
				return usageError("--identity, --endpoint and --forward are required")
			}
			log, err := logger(cmd.ErrOrStderr(), verbose, logFormat)
			if err != nil {
				return err
			}
			return runGuard(cmd.Context(), identity, endpoint, forward, log)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&identity, "identity", "", "the host's enrolled Ziti identity file")
	fl.StringVar(&endpoint, "endpoint", "", "the endpoint's name (its service)")
	fl.StringVar(&forward, "forward", "", "host:port of the agent the guard forwards to")
	fl.BoolVar(&verbose, "verbose", false, "log every session")
	fl.StringVar(&logFormat, "log-format", "text", "text or json")
	return cmd
}

func runGuard(ctx context.Context, identity, endpoint, forward string, log *slog.Logger) error {
	cfg, err := ziti.NewConfigFromFile(identity)
	if err != nil {
		return &exitCode{code: 1, err: fmt.Errorf("reading identity %s: %w", identity, err)}
	}
	cfg.ConfigTypes = guard.ConfigTypes
	z, err := ziti.NewContext(cfg)
	if err != nil {
		return &exitCode{code: 1, err: err}
	}
	defer z.Close()
	g := &guard.Guard{Ziti: z, Endpoint: endpoint, Forward: forward, Log: log}
	if err := g.Run(ctx); err != nil {
		return &exitCode{code: 1, err: err}
	}
	return nil
}
