// Command guardbench measures what agentmesh endpoint-guard adds over Ziti:
// one member makes the same 1 KiB request-response round trips to an
// endpoint its host binds directly and to one behind the guard, on a real
// controller and edge router, and the ratio is printed (make bench).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/guard"
	"github.com/agentmesh/agentmesh/reconciler"
)

const org = "bench-co"

var message = `{"type":"quote.request","pad":"` + strings.Repeat("x", 1000) + `"}` + "\n"

func main() {
	n := flag.Int("n", 2000, "round trips on each path")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "guardbench:", err)
		os.Exit(1)
	}
}

// answer replies to every line on c with one line.
func answer(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		if _, err := r.ReadSlice('\n'); err != nil {
			return
		}
		if _, err := io.WriteString(c, "{\"type\":\"ack\"}\n"); err != nil {
			return
		}
	}
}

func serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go answer(c)
	}
}

func run(n int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	work, err := os.MkdirTemp("", "agentmesh-guardbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	fmt.Println("starting a real controller and edge router...")
	ctrl, err := acctest.Start(ctx, acctest.StartOptions{})
	if err != nil {
		return err
	}
	defer ctrl.Stop()
	c, err := ctrl.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	e := reconciler.New(c, nil)

	host, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "bench-host", Organization: org, Kind: reconciler.KindAgent})
	if err != nil {
		return err
	}
	member, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "bench-member", Organization: org, Kind: reconciler.KindAgent})
	if err != nil {
		return err
	}
	if _, err := e.CreateWorkgroup(ctx, &reconciler.Workgroup{Name: "bench-desk", OwnerOrganization: org}); err != nil {
		return err
	}
	for _, id := range []string{host.ID, member.ID} {
		if _, err := e.CreateMembership(ctx, &reconciler.Membership{Workgroup: "bench-desk", Identity: id, Role: "admin"}); err != nil {
			return err
		}
	}
	if _, err := e.CreateContract(ctx, &reconciler.Contract{Name: "bench-terms", OwnerOrganization: org, MaxMessageBytes: 4096,
		AllowedMessageTypes: []string{"quote.request"}, AccessMode: "open"}); err != nil {
		return err
	}
	for _, name := range []string{"bench-direct", "bench-guarded"} {
		if _, err := e.CreateEndpoint(ctx, &reconciler.Endpoint{Name: name, Host: host.ID, Workgroups: []string{"bench-desk"}, Contract: "bench-terms"}); err != nil {
			return err
		}
	}
	_, hostCfg, err := acctest.Enroll(host.EnrollmentJWT, work, "host")
	if err != nil {
		return err
	}
	_, memberCfg, err := acctest.Enroll(member.EnrollmentJWT, work, "member")
	if err != nil {
		return err
	}
	hostCfg.ConfigTypes = guard.ConfigTypes
	hz, err := ziti.NewContext(hostCfg)
	if err != nil {
		return err
	}
	defer hz.Close()
	mz, err := ziti.NewContext(memberCfg)
	if err != nil {
		return err
	}
	defer mz.Close()

	// The direct path: the host's own listener answers.
	direct, err := agent.Listen(ctx, hz, "bench-direct", 30*time.Second)
	if err != nil {
		return err
	}
	defer direct.Close()
	go serve(direct)
	// The guarded path: the guard in front of the same answer on loopback.
	local, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer local.Close()
	go serve(local)
	g := &guard.Guard{Ziti: hz, Endpoint: "bench-guarded", Forward: local.Addr().String(), Log: slog.New(slog.DiscardHandler)}
	guarded := make(chan error, 1)
	go func() { guarded <- g.Run(ctx) }()

	fmt.Printf("timing %d round trips of a 1 KiB message on each path...\n", n)
	results := map[string][]time.Duration{}
	// Alternate the paths in rounds, so neither gets a warmer network.
	for round := 0; round < 4; round++ {
		for _, svc := range []string{"bench-direct", "bench-guarded"} {
			d, err := roundTrips(mz, svc, n/4)
			if err != nil {
				return err
			}
			results[svc] = append(results[svc], d...)
		}
	}
	for _, d := range results {
		slices.Sort(d)
	}
	q := func(svc string, p float64) time.Duration {
		d := results[svc]
		return d[int(float64(len(d)-1)*p)]
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond)) }
	fmt.Printf("guardbench: round_trips=%d direct_p50_ms=%s direct_p99_ms=%s guarded_p50_ms=%s guarded_p99_ms=%s p50_ratio=%.2f p99_ratio=%.2f\n",
		n, ms(q("bench-direct", .5)), ms(q("bench-direct", .99)), ms(q("bench-guarded", .5)), ms(q("bench-guarded", .99)),
		float64(q("bench-guarded", .5))/float64(q("bench-direct", .5)), float64(q("bench-guarded", .99))/float64(q("bench-direct", .99)))
	cancel() // the guard stops before its Ziti context closes
	return <-guarded
}

// roundTrips dials svc once and times n request-response round trips on
// the one connection.
func roundTrips(z ziti.Context, svc string, n int) ([]time.Duration, error) {
	var conn net.Conn
	deadline := time.Now().Add(30 * time.Second)
	for {
		_ = z.RefreshServices()
		c, err := z.Dial(svc)
		if err == nil {
			conn = c
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("dialing %s: %w", svc, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	out := make([]time.Duration, 0, n)
	for i := 0; i < n+50; i++ { // the first 50 warm the path and are not counted
		start := time.Now()
		if _, err := io.WriteString(conn, message); err != nil {
			return nil, err
		}
		if _, err := r.ReadSlice('\n'); err != nil {
			return nil, fmt.Errorf("%s: %w", svc, err)
		}
		if i >= 50 {
			out = append(out, time.Since(start))
		}
	}
	return out, nil
}
