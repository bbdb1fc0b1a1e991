// Command mcpbench measures the MCP front against a real Ziti controller
// and edge router, a local zrok on it, the real mcp-gateway v0.1.3 on a
// reserved closed share, a go-sdk MCP backend (mcp-notes) and the packaged
// gateway agent. Run it with `go run ./acctest/mcpbench`.
//
// It times tools/call of the same tool on two paths, taking turns call by
// call so drift lands on both:
//   - front: member identity -> its Ziti data-plane service -> the agent's
//     MCP front -> zrok2 access on loopback -> zrok -> mcp-gateway ->
//     backend (an official go-sdk client);
//   - direct: mcp-tools (mcp-gateway's own client) straight to the share.
//
// The last line of output is `bench: key=value ...`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/reconciler"
)

const (
	gatewayName = "bench-mcp"
	memberName  = "bench-mcp-member"
	org         = "bench-co"
	tool        = "notes_read_note"
	// marker is in every answer of the tool, so a call that did not make
	// the whole trip is an error rather than a fast sample.
	marker = "served by mcp-notes"
)

func main() {
	calls := flag.Int("calls", 300, "tools/call per path")
	flag.Parse()
	if err := run(*calls); err != nil {
		fmt.Fprintln(os.Stderr, "mcpbench:", err)
		os.Exit(1)
	}
}

func run(calls int) error {
	ctx := context.Background()
	var cleanup []func()
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}()
	work, err := os.MkdirTemp("", "agentmesh-mcpbench-")
	if err != nil {
		return err
	}
	cleanup = append(cleanup, func() { os.RemoveAll(work) })
	gw, err := acctest.Gateway("mcp-gateway")
	if err != nil {
		return err
	}
	zrokBin, err := acctest.Gateway("zrok2")
	if err != nil {
		return err
	}
	notes, err := acctest.BuildMCPNotes(work)
	if err != nil {
		return err
	}

	fmt.Println("starting a real controller and edge router, and zrok on it...")
	ctrl, err := acctest.Start(ctx, acctest.StartOptions{})
	if err != nil {
		return err
	}
	cleanup = append(cleanup, ctrl.Stop)
	z, err := acctest.StartZrok(ctx, ctrl)
	if err != nil {
		return err
	}
	share := "mcpbench" + strings.Repeat("5", 6)
	if err := z.ReserveShare(ctx, share); err != nil {
		return err
	}
	c, err := ctrl.Client(ctx)
	if err != nil {
		return err
	}
	cleanup = append(cleanup, c.Close)
	e := reconciler.New(c, nil)

	fmt.Println("creating and enrolling the gateway and member identities...")
	gwID, gwFile, gz, err := enrolled(ctx, e, work, "bench-mcp-agent", reconciler.KindGateway)
	if err != nil {
		return err
	}
	gz.Close() // the agent opens its own
	memberID, _, mz, err := enrolled(ctx, e, work, memberName, reconciler.KindAgent)
	if err != nil {
		return err
	}
	cleanup = append(cleanup, mz.Close)
	if _, err := e.CreateGateway(ctx, &reconciler.Gateway{Name: gatewayName, Kind: gateways.KindMCP, Identity: gwID, Organization: org,
		MCP: &reconciler.MCPAggregator{ShareTokenSet: true, ConnectTimeout: "10s"}}); err != nil {
		return err
	}

	fmt.Println("starting the gateway agent...")
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	cfg := &agent.Config{Kind: gateways.KindMCP, IdentityFile: gwFile, ControlService: reconciler.ControlService(gatewayName),
		StateDir: filepath.Join(work, "agent"), Command: []string{gw, "run", "{config}"}, Zrok: zrokBin,
		Env: map[string]string{"HOME": z.Home, "ZROK2_API_ENDPOINT": z.APIEndpoint}}
	go func() { done <- agent.Run(actx, cfg, slog.New(slog.DiscardHandler)) }()
	cleanup = append(cleanup, func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "mcpbench: the gateway agent:", err)
		}
	})
	if err := waitForAgent(ctx, e); err != nil {
		return err
	}
	if _, err := e.PushGatewayWith(ctx, gatewayName, map[string]string{gateways.SecretMCPShareToken: share}); err != nil {
		return err
	}
	fmt.Println("creating the route (the agent starts the gateway)...")
	if _, rep, err := e.CreateMCPRoute(ctx, &reconciler.MCPRoute{Gateway: gatewayName, Namespace: "notes", Type: "stdio", Command: notes,
		ToolsMode: "allow", Tools: []string{"read_*", "list_*"}, Identities: []string{memberID}}, reconciler.MCPSecrets{}); err != nil {
		return err
	} else if rep.Status != "applied" {
		return fmt.Errorf("route report %+v", rep)
	}

	front, err := acctest.MCPOverZiti(ctx, mz, reconciler.MCPDataPlaneService(gatewayName, memberName))
	if err != nil {
		return err
	}
	defer front.Close()
	direct, err := acctest.DialMCP(z, share)
	if err != nil {
		return err
	}
	defer direct.Close()
	paths := []struct {
		name  string
		call  func() (string, error)
		times []time.Duration
	}{
		{name: "front", call: func() (string, error) {
			return acctest.CallText(ctx, front, tool, map[string]any{"name": "welcome"})
		}},
		{name: "direct", call: func() (string, error) { return direct.CallTool(tool, map[string]any{"name": "welcome"}) }},
	}
	fmt.Printf("timing %d tools/call on each path...\n", calls)
	for i := range calls + 10 {
		for j := range paths {
			p := &paths[(i+j)%len(paths)]
			began := time.Now()
			out, err := p.call()
			took := time.Since(began)
			if err != nil || !strings.Contains(out, marker) {
				return fmt.Errorf("%s call %d: %q: %w", p.name, i+1, out, errors.Join(err, errors.New("no answer from mcp-notes")))
			}
			if i >= 10 { // the first calls warm both paths up
				p.times = append(p.times, took)
			}
		}
	}
	var f acctest.Figures
	f.Add("mcp_calls", "%d", calls)
	fr, di := paths[0].times, paths[1].times
	f.Add("front_p50_ms", "%.2f", acctest.MS(acctest.Percentile(fr, 50)))
	f.Add("front_p99_ms", "%.2f", acctest.MS(acctest.Percentile(fr, 99)))
	f.Add("direct_p50_ms", "%.2f", acctest.MS(acctest.Percentile(di, 50)))
	f.Add("direct_p99_ms", "%.2f", acctest.MS(acctest.Percentile(di, 99)))
	f.Add("p50_ratio", "%.2f", float64(acctest.Percentile(fr, 50))/float64(acctest.Percentile(di, 50)))
	f.Add("p99_ratio", "%.2f", float64(acctest.Percentile(fr, 99))/float64(acctest.Percentile(di, 99)))

	fmt.Println()
	fmt.Printf("%-58s %10s\n", "measure", "value")
	for _, r := range [][2]string{
		{"tools/call via Ziti + front + zrok access, p50 (ms)", "front_p50_ms"},
		{"tools/call via Ziti + front + zrok access, p99 (ms)", "front_p99_ms"},
		{"tools/call via mcp-tools straight to the share, p50 (ms)", "direct_p50_ms"},
		{"tools/call via mcp-tools straight to the share, p99 (ms)", "direct_p99_ms"},
		{"front / direct, p50", "p50_ratio"},
		{"front / direct, p99", "p99_ratio"},
	} {
		fmt.Printf("%-58s %10s\n", r[0], f.Get(r[1]))
	}
	fmt.Println(f.Line())
	return nil
}

// enrolled creates an identity and enrolls it as its host would; it
// returns the identity file and an open context.
func enrolled(ctx context.Context, e *reconciler.Engine, dir, name, kind string) (string, string, ziti.Context, error) {
	o, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: name, Organization: org, Kind: kind})
	if err != nil {
		return "", "", nil, err
	}
	file, cfg, err := acctest.Enroll(o.EnrollmentJWT, dir, name)
	if err != nil {
		return "", "", nil, err
	}
	zc, err := ziti.NewContext(cfg)
	if err != nil {
		return "", "", nil, err
	}
	return o.ID, file, zc, nil
}

func waitForAgent(ctx context.Context, e *reconciler.Engine) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := e.GatewayStatus(ctx, gatewayName)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
