// Command gatewaybench measures an LLM gateway under agentmesh against a
// real Ziti controller and edge router, with the real llm-gateway v0.1.4
// (built by `make gateways`) run by a real gateway agent. Run it with `go run ./acctest/gatewaybench`.
//
//  1. Route change to applied: how long engine.UpdateLLMRoute takes to
//     return (it returns once the running gateway reports the new
//     generation applied), raw and minus the gateway's own start time,
//     which agentmesh cannot shorten: the gateway has no reload.
//  2. Proxy overhead: one chat completion sent straight to the gateway,
//     through the agent's front over loopback, and through the whole path
//     (member identity -> Ziti data-plane service -> front -> llm-gateway
//     -> local model). Front minus direct is the front's share, full path
//     minus front the Ziti share.
//
// The last line of output is `bench: key=value ...`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/acctest/model"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/gateways/llmfront"
	"github.com/agentmesh/agentmesh/reconciler"
)

const (
	gatewayName = "bench-llm"
	memberName  = "bench-member"
	org         = "bench-co"
	modelName   = "llama3"
	// marker is in every upstream answer, so a request that did not make
	// the whole trip is an error rather than a fast sample.
	marker = "bench-upstream-answer"
)

func main() {
	changes := flag.Int("changes", 50, "route changes to time")
	requests := flag.Int("requests", 300, "sequential chat completions per path")
	flag.Parse()
	if err := run(*changes, *requests); err != nil {
		fmt.Fprintln(os.Stderr, "gatewaybench:", err)
		os.Exit(1)
	}
}

// undo is a stack of clean-up steps, run last-in first-out so objects go
// in the reverse order of their creation (routes before their gateway,
// the gateway before its identity, everything before the controller).
type undo []func()

func (u *undo) push(f func()) { *u = append(*u, f) }

func (u *undo) run() {
	for i := len(*u) - 1; i >= 0; i-- {
		(*u)[i]()
	}
	*u = nil
}

// warn reports a failed clean-up step without failing the run: the
// figures are already taken.
func warn(what string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "gatewaybench: clean-up: %s: %v\n", what, err)
	}
}

func run(changes, requests int) error {
	ctx := context.Background()
	var cleanup undo
	defer cleanup.run()

	work, err := os.MkdirTemp("", "agentmesh-gatewaybench-")
	if err != nil {
		return err
	}
	cleanup.push(func() { os.RemoveAll(work) })

	bin, err := acctest.Gateway("llm-gateway")
	if err != nil {
		return err
	}
	up := model.Start(modelName)
	up.Reply = func(model.Request) model.Answer { return model.Answer{Text: marker} }
	cleanup.push(up.Close)

	fmt.Println("starting a real controller and edge router...")
	ctrl, err := acctest.Start(ctx, acctest.StartOptions{})
	if err != nil {
		return err
	}
	cleanup.push(ctrl.Stop)
	c, err := ctrl.Client(ctx)
	if err != nil {
		return err
	}
	cleanup.push(c.Close)
	e := reconciler.New(c, nil)

	fmt.Println("creating and enrolling the gateway and member identities...")
	gwID, gz, err := enrolled(ctx, e, &cleanup, work, "bench-gw-agent", reconciler.KindGateway)
	if err != nil {
		return err
	}
	memberID, mz, err := enrolled(ctx, e, &cleanup, work, memberName, reconciler.KindAgent)
	if err != nil {
		return err
	}

	listen, err := freeAddr()
	if err != nil {
		return err
	}
	fmt.Printf("registering gateway %s (listen %s)...\n", gatewayName, listen)
	reg, err := e.CreateGateway(ctx, &reconciler.Gateway{Name: gatewayName, Kind: gateways.KindLLM,
		Identity: gwID, Organization: org, Listen: listen, LocalBaseURL: up.URL})
	if err != nil {
		return err
	}
	cleanup.push(func() { warn("deleting the gateway", e.DeleteGateway(context.Background(), reg.ID)) })

	fmt.Println("starting the gateway agent...")
	stateDir := filepath.Join(work, "agent")
	a, err := startAgent(ctx, &cleanup, gz, bin, stateDir, listen)
	if err != nil {
		return err
	}

	fmt.Println("creating the route (the agent starts the gateway)...")
	route := &reconciler.LLMRoute{Gateway: gatewayName, Name: "chat", Model: modelName,
		Description: "general chat", Identities: []string{memberID}}
	stored, rep, err := e.CreateLLMRoute(ctx, route)
	if stored != nil {
		// Pushed last so it runs first: deleting the route pushes the
		// gateway, which needs the agent still running.
		cleanup.push(func() { warn("deleting the route", e.DeleteLLMRoute(context.Background(), stored.ID)) })
	}
	if err != nil {
		return err
	}
	fmt.Printf("route applied: generation %d, %s\n", rep.Generation, rep.Status)

	var f acctest.Figures
	fmt.Printf("timing %d route changes...\n", changes)
	rt, err := timeRouteChanges(ctx, e, a.Supervisor, stored.ID, route, changes)
	if err != nil {
		return err
	}
	f.Add("route_changes", "%d", changes)
	f.Add("route_p50_ms", "%.1f", acctest.MS(acctest.Percentile(rt.raw, 50)))
	f.Add("route_p99_ms", "%.1f", acctest.MS(acctest.Percentile(rt.raw, 99)))
	f.Add("route_net_p50_ms", "%.1f", acctest.MS(acctest.Percentile(rt.net, 50)))
	f.Add("route_net_p99_ms", "%.1f", acctest.MS(acctest.Percentile(rt.net, 99)))
	f.Add("gateway_start_p50_ms", "%.1f", acctest.MS(acctest.Percentile(rt.start, 50)))
	f.Add("route_api_requests", "%.1f", float64(rt.apiRequests)/float64(changes))

	fmt.Printf("timing %d chat completions on each path...\n", requests)
	px, err := timeProxy(ctx, &cleanup, a, mz, listen, stateDir, requests)
	if err != nil {
		return err
	}
	f.Add("proxy_requests", "%d", requests)
	f.Add("direct_ms", "%.3f", acctest.MS(px.direct))
	f.Add("front_ms", "%.3f", acctest.MS(px.front))
	f.Add("ziti_ms", "%.3f", acctest.MS(px.ziti))
	f.Add("front_share_ms", "%.3f", acctest.MS(px.front-px.direct))
	f.Add("ziti_share_ms", "%.3f", acctest.MS(px.ziti-px.front))
	f.Add("proxy_ratio", "%.2f", float64(px.ziti)/float64(px.direct))

	fmt.Println("cleaning up...")
	cleanup.run()

	printTable(&f)
	fmt.Println(f.Line())
	return nil
}

func printTable(f *acctest.Figures) {
	rows := [][2]string{
		{"route change to applied, p50 (ms)", "route_p50_ms"},
		{"route change to applied, p99 (ms)", "route_p99_ms"},
		{"  minus gateway start, p50 (ms)", "route_net_p50_ms"},
		{"  minus gateway start, p99 (ms)", "route_net_p99_ms"},
		{"gateway start (exec to healthy), p50 (ms)", "gateway_start_p50_ms"},
		{"management-API requests per route change", "route_api_requests"},
		{"request direct to the gateway, mean (ms)", "direct_ms"},
		{"request via the front on loopback, mean (ms)", "front_ms"},
		{"request via Ziti + front, mean (ms)", "ziti_ms"},
		{"  front's share (ms)", "front_share_ms"},
		{"  Ziti's share (ms)", "ziti_share_ms"},
		{"via Ziti + front / direct", "proxy_ratio"},
	}
	fmt.Println()
	fmt.Printf("%-46s %10s\n", "measure", "value")
	for _, r := range rows {
		fmt.Printf("%-46s %10s\n", r[0], f.Get(r[1]))
	}
}

// enrolled creates an identity, enrolls it as its agent would and opens
// its Ziti context.
func enrolled(ctx context.Context, e *reconciler.Engine, cleanup *undo, dir, name, kind string) (string, ziti.Context, error) {
	o, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: name, Organization: org, Kind: kind})
	if err != nil {
		return "", nil, err
	}
	cleanup.push(func() { warn("deleting identity "+name, e.DeleteIdentity(context.Background(), o.ID)) })
	_, cfg, err := acctest.Enroll(o.EnrollmentJWT, dir, name)
	if err != nil {
		return "", nil, err
	}
	z, err := ziti.NewContext(cfg)
	if err != nil {
		return "", nil, err
	}
	cleanup.push(z.Close)
	return o.ID, z, nil
}

// freeAddr picks a free loopback port for the gateway. The gateway binds
// it only when the agent starts it, so there is a small window in which
// another process could take it; fine for a benchmark.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startAgent runs the gateway agent beside the gateway (see
// acctest.StartLLMAgent) until the bench ends.
func startAgent(ctx context.Context, cleanup *undo, gz ziti.Context, bin, stateDir, listen string) (*agent.Agent, error) {
	a, stop, err := acctest.StartLLMAgent(ctx, gz, gatewayName, bin, stateDir, listen)
	if err != nil {
		return nil, err
	}
	cleanup.push(stop)
	return a, nil
}

type routeTimes struct {
	raw, net, start []time.Duration
	// apiRequests is the management-API requests of all changes: most
	// of what a change costs besides the gateway's restart.
	apiRequests int64
}

// timeRouteChanges alternates the route's description between two values,
// so every change renders a different config and restarts the gateway,
// and times each UpdateLLMRoute, which returns only once the agent
// reports the new generation applied.
func timeRouteChanges(ctx context.Context, e *reconciler.Engine, sup *agent.Supervisor, id string, route *reconciler.LLMRoute, n int) (routeTimes, error) {
	var rt routeTimes
	descriptions := [2]string{"general chat, variant a", "general chat, variant b"}
	lastGen := sup.Applied().Generation
	requests := e.Client().Stats().Requests.Load()
	for i := range n {
		r := *route
		r.Description = descriptions[i%2]
		starts := sup.Starts()
		began := time.Now()
		_, rep, err := e.UpdateLLMRoute(ctx, id, &r)
		took := time.Since(began)
		if err != nil {
			return rt, fmt.Errorf("route change %d: %w", i+1, err)
		}
		if rep.Status != "applied" || rep.Generation <= lastGen {
			return rt, fmt.Errorf("route change %d: report %+v after generation %d", i+1, rep, lastGen)
		}
		// StartDuration is the last start's; without exactly one restart
		// in this change it would describe another one.
		if got := sup.Starts() - starts; got != 1 {
			return rt, fmt.Errorf("route change %d restarted the gateway %d times, want 1", i+1, got)
		}
		lastGen = rep.Generation
		start := sup.StartDuration()
		rt.raw = append(rt.raw, took)
		rt.start = append(rt.start, start)
		rt.net = append(rt.net, took-start)
	}
	rt.apiRequests = e.Client().Stats().Requests.Load() - requests
	return rt, nil
}

type proxyMeans struct {
	direct, front, ziti time.Duration
}

// target is one way to send a chat completion.
type target struct {
	name   string
	client *http.Client
	url    string
	key    string // sent as the bearer key; the front and Ziti paths hold none
	total  time.Duration
}

// timeProxy sends n chat completions on each path and returns the mean
// time of each. The paths take turns request by request, with the order
// rotating, so drift (CPU frequency, GC, the controller's background work)
// is shared among them instead of landing on one. Every client keeps its
// connection alive: the figures are per request, not per connection.
func timeProxy(ctx context.Context, cleanup *undo, a *agent.Agent, mz ziti.Context, listen, stateDir string, n int) (proxyMeans, error) {
	key, err := virtualKey(stateDir, memberName)
	if err != nil {
		return proxyMeans{}, err
	}
	frontURL, err := serveFrontOnLoopback(cleanup, a.Front)
	if err != nil {
		return proxyMeans{}, err
	}
	completions := "/v1/chat/completions"
	targets := []*target{
		{name: "direct", client: loopbackClient(), url: "http://" + listen + completions, key: key},
		{name: "front", client: loopbackClient(), url: frontURL + completions},
		{name: "ziti", client: zitiClient(mz, reconciler.DataPlaneService(gatewayName, memberName)), url: "http://llm" + completions},
	}
	// The member's service terminator may not be up yet right after the
	// route was applied; wait for it, then warm every path.
	if err := retry(ctx, 30*time.Second, func() error { return chat(targets[2]) }); err != nil {
		return proxyMeans{}, fmt.Errorf("the member cannot reach the gateway over Ziti: %w", err)
	}
	for range 10 {
		for _, p := range targets {
			if err := chat(p); err != nil {
				return proxyMeans{}, fmt.Errorf("warm-up on the %s path: %w", p.name, err)
			}
		}
	}
	for i := range n {
		for j := range targets {
			p := targets[(i+j)%len(targets)]
			began := time.Now()
			err := chat(p)
			p.total += time.Since(began)
			if err != nil {
				return proxyMeans{}, fmt.Errorf("request %d on the %s path: %w", i+1, p.name, err)
			}
		}
	}
	mean := func(p *target) time.Duration { return p.total / time.Duration(n) }
	return proxyMeans{direct: mean(targets[0]), front: mean(targets[1]), ziti: mean(targets[2])}, nil
}

// virtualKey reads the member's key from the agent's state: the key the
// front injects, which a direct caller has to present itself.
func virtualKey(stateDir, identity string) (string, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, "keys.json"))
	if err != nil {
		return "", err
	}
	keys := map[string]string{}
	if err := json.Unmarshal(b, &keys); err != nil {
		return "", err
	}
	k, ok := keys[identity]
	if !ok {
		return "", fmt.Errorf("the agent keeps no virtual key for %s", identity)
	}
	return k, nil
}

// serveFrontOnLoopback serves the agent's own front (same grants, same
// upstream) on a local TCP listener, marking every connection as the
// member's the way the data-plane listener does for its service.
func serveFrontOnLoopback(cleanup *undo, front *llmfront.Front) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: front, ReadHeaderTimeout: 30 * time.Second,
		ConnContext: func(c context.Context, _ net.Conn) context.Context { return llmfront.WithIdentity(c, memberName) }}
	go func() { _ = srv.Serve(ln) }()
	cleanup.push(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), nil
}

func loopbackClient() *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{}}
}

// zitiClient speaks HTTP to one dark service as the enrolled identity of
// z: no key, no address, only what the network lets it dial.
func zitiClient(z ziti.Context, svc string) *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			_ = z.RefreshServices()
			return z.Dial(svc)
		},
	}}
}

// chat sends one chat completion and checks the upstream's answer came
// back whole.
func chat(p *target) error {
	req, err := http.NewRequest(http.MethodPost, p.url, strings.NewReader(`{"model":"`+modelName+`","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if p.key != "" {
		req.Header.Set("Authorization", "Bearer "+p.key)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body) // read to the end, or the connection is not reused
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), marker) {
		return fmt.Errorf("answer %d: %s", resp.StatusCode, b)
	}
	return nil
}

func retry(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// percentile is the nearest-rank percentile: with 50 samples p99 is the
// largest one.
