package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/control"
	"github.com/agentmesh/agentmesh/gateways/llmfront"
	"github.com/agentmesh/agentmesh/gateways/mcpfront"
)

// Agent ties a gateway's pieces together: pushed tables are applied by the
// supervisor and served per identity through a front on each identity's
// own data-plane service. An LLM gateway's tables are given the
// identities' virtual keys (generated and kept here, never sent
// anywhere); an MCP gateway's front relays to the gateway's zrok share.
type Agent struct {
	Ziti       ziti.Context
	Supervisor *Supervisor
	Front      *llmfront.Front
	// Relay and Access are an MCP gateway's front: the relay applies each
	// identity's view, and reaches the gateway's share through the access.
	// ZrokHome holds the zrok environment both use.
	Relay    *mcpfront.Relay
	Access   *Access
	ZrokHome string
	// unserved says why the MCP front cannot reach the running gateway
	// ("" when it can): Status reports it, so reconcile pushes again.
	unserved atomic.Pointer[string]
	renewing atomic.Bool
	// StateDir holds keys.json and secrets.json (mode 0600).
	StateDir string

	// journal keeps the front's request facts for the audit trail; the
	// control service's handlers read it while Stop may close it.
	journal atomic.Pointer[Journal]

	mu      sync.Mutex
	serving map[string]context.CancelFunc // data-plane service -> stop
	keeps   bool                          // usage is kept in the state directory
}

// KeepFacts opens the request journal in the state directory and has the
// front record every request in it.
func (a *Agent) KeepFacts(log *slog.Logger) error {
	if a.Front == nil {
		return nil
	}
	j, err := OpenJournal(a.StateDir, 0, log)
	if err != nil {
		return fmt.Errorf("opening the request journal: %w", err)
	}
	a.journal.Store(j)
	a.Front.OnRequest = j.Add
	return nil
}

// Facts answers the audit follower from the journal.
func (a *Agent) Facts(q control.FactsQuery) control.Facts {
	j := a.journal.Load()
	if j == nil {
		return control.Facts{Error: control.NoFacts}
	}
	return j.Facts(q)
}

// Handlers are what the agent answers on its control service.
func (a *Agent) Handlers() control.Handlers {
	return control.Handlers{Apply: a.Apply, Status: a.Status, Facts: a.Facts}
}

// Files of the agent's state that let it resume after a restart (0600).
const (
	tableFile = "table.json" // the last applied table, secret values left out
	usageFile = "usage.json" // each identity's usage in its current period
)

// Apply handles one pushed table.
func (a *Agent) Apply(ctx context.Context, t *gateways.Table) gateways.Report {
	a.mu.Lock()
	defer a.mu.Unlock()
	kept, err := json.Marshal(withoutSecretValues(t))
	if err != nil {
		return gateways.Report{Generation: t.Generation, Status: "rejected", Error: err.Error()}
	}
	if err := a.secrets(t); err != nil {
		return gateways.Report{Generation: t.Generation, Status: "rejected", Error: err.Error()}
	}
	if a.Relay != nil && len(t.MCPRoutes) > 0 {
		// Checked before anything changes: without it neither the
		// gateway nor its front could run.
		if err := ZrokEnvironment(a.ZrokHome); err != nil {
			return gateways.Report{Generation: t.Generation, Status: "rejected", Error: "the gateway host cannot serve MCP: " + err.Error()}
		}
	}
	keys, err := a.keys(t.Members)
	if err != nil {
		return gateways.Report{Generation: t.Generation, Status: "rejected", Error: "keeping virtual keys: " + err.Error()}
	}
	t.Keys = nil
	grants := map[string]llmfront.Grant{}
	for _, m := range t.Members {
		t.Keys = append(t.Keys, gateways.VirtualKey{Identity: m.Identity, Key: keys[m.Identity], AllowedModels: m.AllowedModels})
		g := llmfront.Grant{Key: keys[m.Identity], AllowedModels: m.AllowedModels}
		if m.Budget != nil {
			g.Budget, g.Period = m.Budget.Tokens, period(m.Budget.Period)
		}
		grants[m.Identity] = g
	}
	r := a.Supervisor.Apply(ctx, t)
	if r.Status == "applied" {
		if err := gateways.WriteAtomic(filepath.Join(a.StateDir, tableFile), kept); err != nil {
			r.Error = "applied, but not kept for a restart: " + err.Error()
		}
	}
	if r.Status == "rolled-back" && a.Relay != nil && a.Supervisor.PID() != 0 {
		// The last good config runs again, in a new process: the
		// front needs a new access to it (a failure shows in Status).
		if _, err := a.frontAccess(ctx); err != nil {
			r.Error += "; " + err.Error()
		}
	}
	if r.Status != "applied" {
		return r
	}
	if t.Kind == gateways.KindMCP {
		return a.applyMCP(ctx, t, r)
	}
	if a.Front == nil {
		return r
	}
	a.Front.SetGrants(grants)
	a.serve(t.Members, a.Front)
	return r
}

// applyMCP points the MCP front at the gateway's share and serves each
// member's view of it.
func (a *Agent) applyMCP(ctx context.Context, t *gateways.Table, r gateways.Report) gateways.Report {
	if a.Relay == nil {
		if len(t.Members) > 0 {
			r.Warnings = append(r.Warnings, "this agent runs no MCP front (its config sets no zrok): the audience's data-plane services are not served, and anyone holding the gateway's share token reaches every tool")
		}
		return r
	}
	a.Relay.SetRules(mcpfront.RulesOf(t))
	if len(t.MCPRoutes) == 0 {
		a.serve(nil, a.Relay)
		a.Access.Stop()
		return r
	}
	if _, reserved := t.Secrets[gateways.SecretMCPShareToken]; !reserved {
		r.Warnings = append(r.Warnings, "the gateway serves on an ephemeral share, which mcp-gateway opens to every zrok account that holds its token; set mcp_share_token_wo to a share reserved in closed permission mode")
	}
	addr, err := a.frontAccess(ctx)
	if err != nil {
		// The gateway runs the table, but nobody can reach it: the
		// digest is not recorded, and Status says so until the front
		// works, so reconcile pushes again.
		a.serve(nil, a.Relay)
		r.Status, r.Error = "unserved", err.Error()
		return r
	}
	a.serve(t.Members, a.Relay)
	r.Warnings = append(r.Warnings, unknownTools(ctx, t, addr)...)
	return r
}

func period(p string) time.Duration {
	switch p {
	case "hour":
		return time.Hour
	case "month":
		return 30 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// frontAccess makes sure the MCP front reaches the running gateway's
// share (a new gateway process needs a new access; Access.OnAddr points
// the relay at it) and records whether it does, for Status.
func (a *Agent) frontAccess(ctx context.Context) (string, error) {
	addr, err := a.Access.Ensure(ctx, a.Supervisor.ShareToken(), a.Supervisor.Starts())
	if err != nil {
		why := "the gateway runs, but the MCP front cannot reach its share: " + err.Error()
		a.unserved.Store(&why)
		return "", errors.New(why)
	}
	a.unserved.Store(nil)
	return addr, nil
}

// refront points the MCP front at the gateway again after the supervisor
// restarted it on its own.
func (a *Agent) refront() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.Relay == nil || len(a.serving) == 0 {
		return
	}
	if _, err := a.frontAccess(context.Background()); err != nil {
		a.Access.log().Warn("the gateway restarted, but the front cannot reach its share", "error", err.Error())
	}
}

// renewAccess replaces an access that lost the gateway's share (its 502s
// and refused connections reach the relay): one renewal at a time, at
// most one per 10 s.
func (a *Agent) renewAccess() {
	if !a.renewing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer a.renewing.Store(false)
		if err := a.Access.Renew(context.Background(), 10*time.Second); err != nil {
			a.Access.log().Warn("renewing the zrok access to the gateway's share failed", "error", err.Error())
		}
	}()
}

// serve starts the data plane of new members and stops that of removed
// ones.
func (a *Agent) serve(members []gateways.Member, front http.Handler) {
	if a.serving == nil {
		a.serving = map[string]context.CancelFunc{}
	}
	want := map[string]string{}
	for _, m := range members {
		want[m.Service] = m.Identity
	}
	for svc, stop := range a.serving {
		if _, ok := want[svc]; !ok {
			stop()
			delete(a.serving, svc)
		}
	}
	for svc, id := range want {
		if _, ok := a.serving[svc]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		a.serving[svc] = cancel
		go func() {
			_ = ServeDataPlane(ctx, a.Ziti, map[string]string{svc: id}, front, time.Minute)
		}()
	}
}

// Status is what the agent runs now, with each identity's usage.
func (a *Agent) Status() gateways.Report {
	r := a.Supervisor.Applied()
	if why := a.unserved.Load(); why != nil && r.Status == "applied" {
		r.Status, r.Error = "unserved", *why
	}
	if a.Front == nil {
		return r
	}
	for _, u := range a.Front.Usage() {
		r.Usage = append(r.Usage, gateways.Usage(u))
	}
	sort.Slice(r.Usage, func(i, j int) bool { return r.Usage[i].Identity < r.Usage[j].Identity })
	return r
}

// Stop ends every data-plane listener and the gateway.
func (a *Agent) Stop() {
	a.mu.Lock()
	for _, stop := range a.serving {
		stop()
	}
	a.serving = nil
	keeps := a.keeps
	a.mu.Unlock()
	if keeps {
		a.saveUsage()
	}
	a.Supervisor.Stop()
	if a.Access != nil {
		a.Access.Stop()
	}
	if j := a.journal.Swap(nil); j != nil {
		_ = j.Close()
	}
}

// keys returns a key per member, generating missing ones and forgetting
// those of former members. Keys never leave the gateway host.
func (a *Agent) keys(members []gateways.Member) (map[string]string, error) {
	file := filepath.Join(a.StateDir, "keys.json")
	have := map[string]string{}
	if b, err := os.ReadFile(file); err == nil {
		if err := json.Unmarshal(b, &have); err != nil {
			return nil, err
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	out := map[string]string{}
	for _, m := range members {
		k, ok := have[m.Identity]
		if !ok {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return nil, err
			}
			k = "sk-gw-" + hex.EncodeToString(b)
		}
		out[m.Identity] = k
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return out, gateways.WriteAtomic(file, b)
}

// secrets keeps the write-only values a push carries and fills every
// secret the table names from what is kept, so a re-push that carries
// names only renders the same config.
func (a *Agent) secrets(t *gateways.Table) error {
	file := filepath.Join(a.StateDir, "secrets.json")
	store := gateways.SecretStore{}
	if b, err := os.ReadFile(file); err == nil {
		if err := json.Unmarshal(b, &store); err != nil {
			return fmt.Errorf("reading %s: %w", file, err)
		}
	} else if !os.IsNotExist(err) {
		return err
	}
	if store.Remember(t) {
		b, err := json.Marshal(store)
		if err != nil {
			return err
		}
		if err := gateways.WriteAtomic(file, b); err != nil {
			return fmt.Errorf("keeping delivered secrets: %w", err)
		}
	}
	return store.Fill(t)
}

func withoutSecretValues(t *gateways.Table) *gateways.Table {
	c := *t
	c.SecretValues = nil
	return &c
}

// Resume brings back what the agent ran before it stopped: the last
// applied table (its keys and secrets are in the state directory) and each
// identity's usage in the current period. A restarted agent thus serves at
// once, without waiting for a push, and a restart does not reset budgets.
// Usage is written behind, at most every flushEvery, and on ctx's end.
func (a *Agent) Resume(ctx context.Context, flushEvery time.Duration) error {
	if a.Front != nil {
		if b, err := os.ReadFile(filepath.Join(a.StateDir, usageFile)); err == nil {
			var us []llmfront.Usage
			if err := json.Unmarshal(b, &us); err != nil {
				return fmt.Errorf("reading %s: %w", usageFile, err)
			}
			a.Front.RestoreUsage(us)
		}
		dirty := make(chan struct{}, 1)
		a.Front.OnUsage = func() {
			select {
			case dirty <- struct{}{}:
			default:
			}
		}
		a.mu.Lock()
		a.keeps = true
		a.mu.Unlock()
		go a.keepUsage(ctx, dirty, flushEvery)
	}
	b, err := os.ReadFile(filepath.Join(a.StateDir, tableFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var t gateways.Table
	if err := json.Unmarshal(b, &t); err != nil {
		return fmt.Errorf("reading %s: %w", tableFile, err)
	}
	if r := a.Apply(ctx, &t); r.Status != "applied" {
		return fmt.Errorf("resuming generation %d: %s: %s", t.Generation, r.Status, r.Error)
	}
	return nil
}

func (a *Agent) keepUsage(ctx context.Context, dirty <-chan struct{}, every time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return // Stop saves the last figures
		case <-dirty:
			a.saveUsage()
			select {
			case <-ctx.Done():
				return
			case <-time.After(every):
			}
		}
	}
}

func (a *Agent) saveUsage() {
	if b, err := json.Marshal(a.Front.Usage()); err == nil {
		_ = gateways.WriteAtomic(filepath.Join(a.StateDir, usageFile), b)
	}
}
