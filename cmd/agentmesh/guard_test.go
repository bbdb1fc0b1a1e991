package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/reconciler"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestEndpointGuard_onTheWire hosts two endpoints behind the real
// `agentmesh endpoint-guard`, each with its host's enrolled identity, and
// dials them over Ziti as a member: under max_message_bytes 1024,
// max_message_count 10 and allowed types quote.request and ping, an
// allowed message passes, a 1,025-byte one is refused, the 11th message
// closes the session and a disallowed type is refused, each with its
// reason; under max_duration_seconds 2 an idle session is closed at the
// cap. A guard started with another identity is refused.
func TestEndpointGuard_onTheWire(t *testing.T) {
	ctx := context.Background()
	e := acctest.Engine(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	host, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "guard-host", Organization: "guard-co", Kind: reconciler.KindAgent})
	must(err)
	caller, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "guard-caller", Organization: "guard-co", Kind: reconciler.KindAgent})
	must(err)
	_, err = e.CreateWorkgroup(ctx, &reconciler.Workgroup{Name: "guard-desk", OwnerOrganization: "guard-co"})
	must(err)
	for _, id := range []string{host.ID, caller.ID} {
		_, err = e.CreateMembership(ctx, &reconciler.Membership{Workgroup: "guard-desk", Identity: id, Role: "admin"})
		must(err)
	}
	_, err = e.CreateContract(ctx, &reconciler.Contract{Name: "guard-terms", OwnerOrganization: "guard-co", MaxMessageBytes: 1024, MaxMessageCount: 10,
		AllowedMessageTypes: []string{"quote.request", "ping"}, AccessMode: "open"})
	must(err)
	_, err = e.CreateContract(ctx, &reconciler.Contract{Name: "guard-brief", OwnerOrganization: "guard-co", MaxDurationSeconds: 2, AllowedMessageTypes: []string{"*"}, AccessMode: "open"})
	must(err)
	for name, contract := range map[string]string{"guard-feed": "guard-terms", "guard-brief-feed": "guard-brief"} {
		_, err = e.CreateEndpoint(ctx, &reconciler.Endpoint{Name: name, Host: host.ID, Workgroups: []string{"guard-desk"}, Contract: contract})
		must(err)
	}
	dir := t.TempDir()
	hostFile, _, err := acctest.Enroll(host.EnrollmentJWT, dir, "host")
	must(err)
	callerFile, callerCfg, err := acctest.Enroll(caller.EnrollmentJWT, dir, "caller")
	must(err)

	// The agent: answers each line with "ack <its length>".
	agentLn, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	t.Cleanup(func() { _ = agentLn.Close() })
	go func() {
		for {
			c, err := agentLn.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					fmt.Fprintf(c, "ack %d\n", len(line)-1)
				}
			}()
		}
	}()

	// A guard with the caller's identity is refused.
	var refused bytes.Buffer
	if rc := execute(ctx, []string{"endpoint-guard", "--identity", callerFile, "--endpoint", "guard-feed", "--forward", agentLn.Addr().String()}, &bytes.Buffer{}, &refused); rc != 1 ||
		!strings.Contains(refused.String(), `identity "guard-caller" does not host endpoint "guard-feed"`) {
		t.Fatalf("a guard with another identity: exit %d, %s", rc, refused.String())
	}

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	logs := map[string]*syncBuffer{}
	for _, ep := range []string{"guard-feed", "guard-brief-feed"} {
		logs[ep] = &syncBuffer{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rc := execute(runCtx, []string{"endpoint-guard", "--identity", hostFile, "--endpoint", ep, "--forward", agentLn.Addr().String()}, &bytes.Buffer{}, logs[ep]); rc != 0 {
				t.Errorf("guard of %s exited %d: %s", ep, rc, logs[ep].String())
			}
		}()
	}
	t.Cleanup(func() { stop(); wg.Wait() })

	z, err := ziti.NewContext(callerCfg)
	must(err)
	t.Cleanup(z.Close)
	type conn struct {
		c net.Conn
		r *bufio.Reader
	}
	dial := func(svc string) conn {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			_ = z.RefreshServices()
			c, err := z.Dial(svc)
			if err == nil {
				return conn{c, bufio.NewReader(c)}
			}
			if time.Now().After(deadline) {
				t.Fatalf("dialing %s: %v\nguard: %s", svc, err, logs[svc].String())
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	exchange := func(c conn, line string) string {
		t.Helper()
		_ = c.c.SetDeadline(time.Now().Add(15 * time.Second))
		if _, err := fmt.Fprintf(c.c, "%s\n", line); err != nil {
			t.Fatalf("sending: %v", err)
		}
		got, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the answer to %.40q: %v", line, err)
		}
		return strings.TrimSuffix(got, "\n")
	}
	closedBy := func(c conn, reason string) {
		t.Helper()
		// After the closing line, the session is gone.
		_ = c.c.SetReadDeadline(time.Now().Add(15 * time.Second))
		if _, err := c.r.ReadString('\n'); err == nil {
			t.Fatalf("the session stayed open after %s", reason)
		}
	}
	quote := func(size int) string {
		head := `{"type":"quote.request","pad":"`
		return head + strings.Repeat("x", size-len(head)-2) + `"}`
	}
	closing := func(term string) string {
		return fmt.Sprintf(`{"reason":"contract_violation: %s","type":"agentmesh.session.closed"}`, term)
	}

	c := dial("guard-feed")
	if got := exchange(c, quote(1024)); got != "ack 1024" {
		t.Fatalf("an allowed 1,024-byte message: %q", got)
	}
	if got := exchange(c, quote(1025)); got != closing("max_message_bytes") {
		t.Fatalf("a 1,025-byte message under a 1,024-byte cap: %q", got)
	}
	closedBy(c, "max_message_bytes")

	c = dial("guard-feed")
	for i := 1; i <= 10; i++ {
		if got := exchange(c, `{"type":"ping"}`); got != "ack 15" {
			t.Fatalf("message %d of 10: %q", i, got)
		}
	}
	if got := exchange(c, `{"type":"ping"}`); got != closing("max_message_count") {
		t.Fatalf("the 11th message under a count of 10: %q", got)
	}
	closedBy(c, "max_message_count")

	c = dial("guard-feed")
	if got := exchange(c, `{"type":"trade.execute"}`); got != closing("allowed_message_types") {
		t.Fatalf("a disallowed type: %q", got)
	}
	closedBy(c, "allowed_message_types")

	opened := time.Now()
	c = dial("guard-brief-feed")
	if got := exchange(c, `{"type":"anything"}`); got != "ack 19" {
		t.Fatalf("guard-brief-feed: %q", got)
	}
	_ = c.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	got, err := c.r.ReadString('\n')
	lived := time.Since(opened)
	if err != nil || strings.TrimSuffix(got, "\n") != closing("max_duration_seconds") {
		t.Fatalf("an idle session under max_duration_seconds 2: %q, %v", got, err)
	}
	closedBy(c, "max_duration_seconds")
	// The guard's clock starts when it accepts, after the dial began.
	if lived < 2*time.Second {
		t.Fatalf("the session was closed after %s, well before its 2 s cap", lived)
	}
	t.Logf("max_duration_seconds 2: the dialer saw the session closed %s after it began to dial (%s past the cap)", lived.Round(time.Millisecond), (lived - 2*time.Second).Round(time.Millisecond))
	if log := logs["guard-feed"].String(); !strings.Contains(log, "contract_violation: max_message_count") {
		t.Fatalf("the guard did not log the violation:\n%s", log)
	}
}
