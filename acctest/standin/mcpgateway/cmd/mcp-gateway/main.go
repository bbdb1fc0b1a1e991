// Command mcp-gateway is the strict test stand-in for openziti/mcp-gateway
// v0.1.3: `mcp-gateway run <config.yml>`. Like the real one it shuts down
// cleanly only on SIGINT (it then writes MCP_STANDIN_MARKER, if set);
// SIGTERM kills it without cleanup.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/agentmesh/agentmesh/acctest/standin/mcpgateway"
)

func main() {
	if len(os.Args) != 3 || os.Args[1] != "run" {
		fmt.Fprintln(os.Stderr, "usage: mcp-gateway run <config.yml>")
		os.Exit(2)
	}
	if _, err := mcpgateway.Load(os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "mcp-gateway:", err)
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
	<-ctx.Done()
	if m := os.Getenv("MCP_STANDIN_MARKER"); m != "" {
		_ = os.WriteFile(m, []byte("clean shutdown on SIGINT\n"), 0o600)
	}
}
