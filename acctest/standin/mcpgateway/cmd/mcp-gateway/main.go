// Command mcp-gateway is the test stand-in for openziti/mcp-gateway v0.1.3
// where the real one cannot keep running (no zrok): `mcp-gateway run
// <config.yml>`. It refuses what its own checks refuse and, first, what
// the real gateway's loader refuses: it runs the real binary it was built
// with (realGateway) on the same file. Like the real one it shuts down
// cleanly only on SIGINT (it then writes MCP_STANDIN_MARKER, if set);
// SIGTERM kills it without cleanup.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/agentmesh/agentmesh/acctest/standin/mcpgateway"
)

// realGateway is the real mcp-gateway binary, set at build time
// (acctest.BuildStandIn).
var realGateway string

func main() {
	if len(os.Args) != 3 || os.Args[1] != "run" {
		fmt.Fprintln(os.Stderr, "usage: mcp-gateway run <config.yml>")
		os.Exit(2)
	}
	if realGateway == "" {
		fmt.Fprintln(os.Stderr, "Error: this stand-in was built without the real mcp-gateway to check configs against; build it with acctest.BuildStandIn")
		os.Exit(2)
	}
	if _, err := mcpgateway.RealLoad(context.Background(), realGateway, os.Args[2]); errors.Is(err, mcpgateway.ErrRealRefused) {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	if _, err := mcpgateway.Load(os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if addr := os.Getenv("MCP_STANDIN_HEALTH"); addr != "" {
		srv := &http.Server{Addr: addr, ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"status":"ok"}`)
		})}
		go func() { _ = srv.ListenAndServe() }()
		defer srv.Close()
	}
	fmt.Fprintln(os.Stderr, mcpgateway.ServingLine)
	<-ctx.Done()
	if m := os.Getenv("MCP_STANDIN_MARKER"); m != "" {
		_ = os.WriteFile(m, []byte("clean shutdown on SIGINT\n"), 0o600)
	}
}
