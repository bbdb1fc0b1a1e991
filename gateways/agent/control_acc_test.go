package agent_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/gateways/control"
	"github.com/agentmesh/agentmesh/reconciler"
)

// TestPushOverTheControlService: the reconciler's identity pushes a route
// table over the agent's dark control service; the agent renders it,
// restarts the stand-in gateway and reports the generation and hash. An
// identity without the Dial policy cannot push.
func TestPushOverTheControlService(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := acctest.Engine(t)
	gwID, gwZiti := enrolled(t, e, "ctl-gateway", reconciler.KindGateway)
	recID, recZiti := enrolled(t, e, "ctl-reconciler", reconciler.KindService)
	_, outsiderZiti := enrolled(t, e, "ctl-outsider", reconciler.KindAgent)
	svc, err := e.EnsureControlService(ctx, "llm2", gwID, recID)
	if err != nil {
		t.Fatal(err)
	}

	listen := freePort(t)
	file := filepath.Join(t.TempDir(), "llm.yaml")
	sup := &agent.Supervisor{Command: []string{gatewayBin(t, "llm-gateway"), "run", file}, ConfigFile: file, StopSignal: agent.StopSignalFor(gateways.KindLLM),
		Health: agent.HTTPHealth(listen)}
	defer sup.Stop()
	ln, err := agent.Listen(ctx, gwZiti, svc, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	go func() { _ = control.Serve(ctx, ln, sup.Apply, sup.Applied) }()

	push := func(z ziti.Context, gen int64) (gateways.Report, error) {
		pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
		defer pcancel()
		return control.Push(pctx, func() (net.Conn, error) { _ = z.RefreshServices(); return z.Dial(svc) }, table(gen, listen))
	}
	var r gateways.Report
	for {
		r, err = push(recZiti, 1)
		if err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "dialing") {
			break
		}
		time.Sleep(300 * time.Millisecond) // the terminator may not be up yet
	}
	if err != nil || r.Status != "applied" || r.Generation != 1 || len(r.ConfigSHA256) != 64 {
		t.Fatalf("push: %+v %v", r, err)
	}
	bad := table(2, listen)
	bad.LLMRoutes[0].Model = "claude-3"
	if r, err := control.Push(ctx, func() (net.Conn, error) { return recZiti.Dial(svc) }, bad); err == nil || r.Status != "rejected" {
		t.Fatalf("an invalid table must come back rejected with its reason: %+v %v", r, err)
	}
	if _, err := push(outsiderZiti, 3); err == nil || !strings.Contains(err.Error(), "dialing") {
		t.Fatalf("an identity without the Dial policy pushed a table: %v", err)
	}
	// Dark: the outsider cannot even see it, while the reconciler can.
	if err := outsiderZiti.RefreshServices(); err != nil {
		t.Fatal(err)
	}
	if _, seen := outsiderZiti.GetService(svc); seen {
		t.Fatal("a non-reconciler identity can see the control service")
	}
	if _, seen := recZiti.GetService(svc); !seen {
		t.Fatal("the reconciler's identity cannot see the control service; the visibility check proves nothing")
	}
	if sup.Applied().Generation != 1 {
		t.Fatalf("applied %+v", sup.Applied())
	}
}
