// Command llm-gateway is the strict test stand-in for openziti/llm-gateway
// v0.1.4: `llm-gateway run <config.yaml>`. SIGINT or SIGTERM stops it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/agentmesh/agentmesh/acctest/standin/llmgateway"
)

func main() {
	if len(os.Args) != 3 || os.Args[1] != "run" {
		fmt.Fprintln(os.Stderr, "usage: llm-gateway run <config.yaml>")
		os.Exit(2)
	}
	cfg, err := llmgateway.Load(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "llm-gateway:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := llmgateway.Run(ctx, cfg, nil); err != nil {
		fmt.Fprintln(os.Stderr, "llm-gateway:", err)
		os.Exit(1)
	}
}
