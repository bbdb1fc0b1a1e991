package acctest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/gateways/control"
	"github.com/agentmesh/agentmesh/gateways/llmfront"
	"github.com/agentmesh/agentmesh/reconciler"
)

// StartLLMAgent runs the gateway agent as a gateway host would: the
// gateway's enrolled identity binds its dark control service, and the
// agent applies what the reconciler pushes there, supervising the
// llm-gateway binary bin on listen and fronting it. stop ends it.
func StartLLMAgent(ctx context.Context, gz ziti.Context, gateway, bin, stateDir, listen string) (a *agent.Agent, stop func(), err error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, nil, err
	}
	file := filepath.Join(stateDir, "llm.yaml")
	a = &agent.Agent{Ziti: gz, StateDir: stateDir, Front: llmfront.New(&url.URL{Scheme: "http", Host: listen}, nil),
		Supervisor: &agent.Supervisor{Command: []string{bin, "run", file}, ConfigFile: file,
			StopSignal: agent.StopSignalFor(gateways.KindLLM), Health: agent.HTTPHealth(listen)}}
	if err := a.KeepFacts(nil); err != nil {
		return nil, nil, err
	}
	ln, err := agent.Listen(ctx, gz, reconciler.ControlService(gateway), 30*time.Second)
	if err != nil {
		return nil, nil, fmt.Errorf("the agent cannot bind its control service: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = control.ServeWith(sctx, ln, a.Handlers())
	}()
	return a, func() { cancel(); <-served; a.Stop() }, nil
}
