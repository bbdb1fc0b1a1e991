package reliability

import (
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/api_session"
	"github.com/openziti/edge-api/rest_management_api_client/config"
	"github.com/openziti/edge-api/rest_management_api_client/edge_router_policy"
	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_management_api_client/service"
	"github.com/openziti/edge-api/rest_management_api_client/service_edge_router_policy"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/acctest/faultproxy"
	"github.com/agentmesh/agentmesh/reconciler"
)

type scenario struct {
	name string
	run  func(e *env, trial int, row *Row) error
}

var scenarios = []scenario{
	{"controller restart mid-apply", restartMidApply},
	{"429/503/reset/truncation storm", storm},
	{"API session revoked mid-run", sessionRevoked},
	{"two states, one workgroup", concurrentStates},
	{"out-of-band deletion of derived objects", outOfBand},
}

func (e *env) rng(trial int) *mrand.Rand {
	s := e.opts.Seed + uint64(trial)*7919
	return mrand.New(mrand.NewPCG(s, s^0xa5a5a5a5))
}

// macroTrial applies Macro Pulse with faults, re-applies until done,
// measures, and destroys.
func (e *env) macroTrial(row *Row, during func() (stop func(), extra []string, err error)) error {
	w, err := e.workspace("macro-pulse")
	if err != nil {
		return err
	}
	stop, extra, err := during()
	if err != nil {
		return err
	}
	applyErr := e.applyUntilDone(w, extra)
	stop()
	if applyErr != nil {
		// The faults are gone; a user re-applies.
		applyErr = e.applyUntilDone(w, nil)
	}
	if applyErr != nil {
		return fmt.Errorf("apply never completed: %w", firstLines(applyErr, 12))
	}
	if err := e.measure(w, row); err != nil {
		return err
	}
	return e.destroy(w)
}

func firstLines(err error, n int) error {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Errorf("%s", strings.Join(lines, " | "))
}

// storm: every request may meet a 429 or 503 (in bursts, half with
// Retry-After), a reset before or after the controller acted, or a
// truncated answer, during apply and plan.
func storm(e *env, trial int, row *Row) error {
	p, err := faultproxy.Start(e.ctrl.Origin, e.ctrl.CAPEM, e.opts.Seed+uint64(trial))
	if err != nil {
		return err
	}
	defer p.Close()
	ca := filepath.Join(e.dir, fmt.Sprintf("proxy-ca-%d.pem", trial))
	if err := os.WriteFile(ca, p.CAPEM, 0o600); err != nil {
		return err
	}
	p.Set(faultproxy.Faults{Latency: time.Millisecond, Jitter: 4 * time.Millisecond, P429: 0.06, P503: 0.06, RetryAfter: true, Burst: 3,
		PResetBefore: 0.02, PResetAfter: 0.02, PTruncate: 0.02})
	via := []string{"AGENTMESH_ENDPOINT=" + p.URL, "AGENTMESH_CA_FILE=" + ca}
	err = e.macroTrial(row, func() (func(), []string, error) { return func() {}, via, nil })
	row.Note = fmt.Sprintf("injected 429=%d 503=%d resets=%d/%d truncated=%d of %d forwarded", p.Injected429.Load(), p.Injected503.Load(),
		p.ResetsBefore.Load(), p.ResetsAfter.Load(), p.Truncated.Load(), p.Forwarded.Load())
	return err
}

// sessionRevoked deletes the provider's API sessions every 150 ms during
// the apply; it must re-authenticate and carry on.
func sessionRevoked(e *env, trial int, row *Row) error {
	return e.macroTrial(row, func() (func(), []string, error) {
		c, _, err := e.client()
		if err != nil {
			return nil, nil, err
		}
		if err := c.Authenticate(e.ctx); err != nil {
			return nil, nil, err
		}
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				case <-time.After(150 * time.Millisecond):
				}
				l, err := c.API.APISession.ListAPISessions(api_session.NewListAPISessionsParamsWithContext(e.ctx).WithLimit(ptrInt(500)), nil)
				if err != nil {
					continue
				}
				for _, s := range l.Payload.Data {
					if s.Token == nil || *s.Token == c.SessionToken() {
						continue
					}
					e.addSecret("API session token "+*s.ID, *s.Token)
					_, _ = c.API.APISession.DeleteAPISessions(api_session.NewDeleteAPISessionsParamsWithContext(e.ctx).WithID(*s.ID), nil)
				}
			}
		}()
		return func() { close(done); wg.Wait(); c.Close() }, nil, nil
	})
}

// restartMidApply kills and restarts the controller at a random moment of
// the apply; its data survives in its persistent home.
func restartMidApply(e *env, trial int, row *Row) error {
	r := e.rng(trial)
	return e.macroTrial(row, func() (func(), []string, error) {
		delay := time.Duration(50+r.IntN(500)) * time.Millisecond
		done := make(chan error, 1)
		go func() {
			time.Sleep(delay)
			done <- e.ctrl.Restart(e.ctx)
		}()
		return func() {
			if err := <-done; err != nil {
				fmt.Fprintf(e.opts.Progress, "  restart failed: %v\n", err)
			}
		}, []string{"AGENTMESH_MAX_RETRIES=12"}, nil
	})
}

// concurrentStates: two organisations' states add one shared identity to
// their workgroups at the same time; both roles must survive.
func concurrentStates(e *env, trial int, row *Row) error {
	c, eng, err := e.client()
	if err != nil {
		return err
	}
	defer c.Close()
	name := fmt.Sprintf("rel-pulse-%d", trial)
	id, err := eng.CreateIdentity(e.ctx, &reconciler.Identity{Name: name, Organization: "enterprise-client", Kind: reconciler.KindAgent})
	if err != nil {
		return err
	}
	defer func() { _ = eng.DeleteIdentity(e.ctx, id.ID) }()
	// The workgroup both organisations' states add members to at once.
	shared, err := eng.CreateWorkgroup(e.ctx, &reconciler.Workgroup{Name: fmt.Sprintf("rel-shared-%d", trial), OwnerOrganization: "enterprise-client",
		ParticipatingOrganizations: []string{"markets-co", "signals-co"}})
	if err != nil {
		return err
	}
	defer func() { _ = eng.DeleteWorkgroup(e.ctx, shared.ID) }()
	var wsList []*acctest.Workspace
	var errs [2]error
	var wg sync.WaitGroup
	for i, org := range []string{"markets-co", "signals-co"} {
		src := filepath.Join(e.dir, fmt.Sprintf("concurrent-%d-%d", trial, i))
		if err := os.MkdirAll(src, 0o700); err != nil {
			return err
		}
		tf := fmt.Sprintf(`terraform {
  required_providers {
    agentmesh = { source = "agentmesh/agentmesh" }
  }
}
resource "agentmesh_identity" "own" {
  name         = "rel-%[1]s-%[2]d"
  organization = "%[1]s"
}
resource "agentmesh_workgroup" "channel" {
  name                        = "rel-%[1]s-%[2]d"
  owner_organization          = "%[1]s"
  participating_organizations = ["enterprise-client"]
}
resource "agentmesh_workgroup_membership" "own" {
  workgroup = agentmesh_workgroup.channel.name
  identity  = agentmesh_identity.own.id
  role      = "admin"
}
resource "agentmesh_workgroup_membership" "client" {
  workgroup  = agentmesh_workgroup.channel.name
  identity   = %[3]q
  depends_on = [agentmesh_workgroup_membership.own]
}
resource "agentmesh_workgroup_membership" "shared" {
  workgroup = %[4]q
  identity  = agentmesh_identity.own.id
}
`, org, trial, id.ID, shared.Value.Name)
		if err := os.WriteFile(filepath.Join(src, "main.tf"), []byte(tf), 0o600); err != nil {
			return err
		}
		w, err := e.ctrl.NewWorkspace(src, src+"-ws")
		if err != nil {
			return err
		}
		wsList = append(wsList, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.applyUntilDone(w, nil)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return firstLines(err, 12)
		}
	}
	eng.Reset()
	o, err := eng.ObserveIdentity(e.ctx, id.ID)
	if err != nil {
		return err
	}
	have := strings.Join(o.Reserved, ",")
	want := []string{fmt.Sprintf("wg.rel-markets-co-%d", trial), fmt.Sprintf("wg.rel-signals-co-%d", trial)}
	ok := true
	for _, w := range want {
		if !strings.Contains(have, w) {
			ok = false
			row.Lost++
		}
	}
	// Both organisations' agents are in the shared workgroup.
	for _, org := range []string{"markets-co", "signals-co"} {
		a, err := eng.FindIdentityByName(e.ctx, fmt.Sprintf("rel-%s-%d", org, trial))
		if err != nil {
			return err
		}
		if !strings.Contains(strings.Join(a.Reserved, ","), "wg."+shared.Value.Name) {
			ok = false
			row.Lost++
		}
	}
	plan, err := eng.PlanChanges(e.ctx)
	if err != nil {
		return err
	}
	if ok && len(plan.Changes) == 0 {
		row.Converged++
	}
	for i, w := range wsList {
		if _, err := e.tofu(w, nil, "destroy", "-auto-approve"); err != nil {
			return fmt.Errorf("destroy %d: %w", i, err)
		}
	}
	return nil
}

// outOfBand deletes or edits each kind of derived object by hand after an
// apply: the plan must flag it, and one reconcile pass must repair all.
func outOfBand(e *env, trial int, row *Row) error {
	w, err := e.workspace("macro-pulse")
	if err != nil {
		return err
	}
	if err := e.applyUntilDone(w, nil); err != nil {
		return firstLines(err, 12)
	}
	defer func() { _ = e.destroy(w) }()
	c, eng, err := e.client()
	if err != nil {
		return err
	}
	defer c.Close()
	api := c.API
	one := func(list func() ([]string, error)) (string, error) {
		ids, err := list()
		if err != nil {
			return "", err
		}
		if len(ids) != 1 {
			return "", fmt.Errorf("expected one object, found %d", len(ids))
		}
		return ids[0], nil
	}
	policyID := func(name string) func() ([]string, error) {
		return func() ([]string, error) {
			f := fmt.Sprintf("name = %q", name)
			l, err := api.ServicePolicy.ListServicePolicies(service_policy.NewListServicePoliciesParamsWithContext(e.ctx).WithFilter(&f), nil)
			if err != nil {
				return nil, err
			}
			var ids []string
			for _, p := range l.Payload.Data {
				ids = append(ids, *p.ID)
			}
			return ids, nil
		}
	}
	pulse, err := eng.FindIdentityByName(e.ctx, "pulse-agent")
	if err != nil {
		return err
	}
	equity, err := eng.FindEndpoint(e.ctx, "equity-feed")
	if err != nil {
		return err
	}
	sabotage := map[string]func() error{
		"dial policy": func() error {
			id, err := one(policyID("agentmesh.dial.news-pulse.signals-channel"))
			if err == nil {
				_, err = api.ServicePolicy.DeleteServicePolicy(service_policy.NewDeleteServicePolicyParamsWithContext(e.ctx).WithID(id), nil)
			}
			return err
		},
		"bind policy": func() error {
			id, err := one(policyID("agentmesh.bind.equity-feed"))
			if err == nil {
				_, err = api.ServicePolicy.DeleteServicePolicy(service_policy.NewDeleteServicePolicyParamsWithContext(e.ctx).WithID(id), nil)
			}
			return err
		},
		"workgroup roles": func() error {
			_, err := api.Identity.PatchIdentity(identity.NewPatchIdentityParamsWithContext(e.ctx).WithID(pulse.ID).WithIdentity(&rest_model.IdentityPatch{RoleAttributes: &rest_model.Attributes{"org.enterprise-client"}}), nil)
			return err
		},
		"edge router policy": func() error {
			f := fmt.Sprintf("name = %q", reconciler.RouterPolicyIdentities)
			l, err := api.EdgeRouterPolicy.ListEdgeRouterPolicies(edge_router_policy.NewListEdgeRouterPoliciesParamsWithContext(e.ctx).WithFilter(&f), nil)
			if err != nil || len(l.Payload.Data) != 1 {
				return fmt.Errorf("edge router policy not found (%d): %w", len(l.GetPayload().Data), err)
			}
			_, err = api.EdgeRouterPolicy.DeleteEdgeRouterPolicy(edge_router_policy.NewDeleteEdgeRouterPolicyParamsWithContext(e.ctx).WithID(*l.Payload.Data[0].ID), nil)
			return err
		},
		"service edge router policy": func() error {
			f := fmt.Sprintf("name = %q", reconciler.RouterPolicyEndpoints)
			l, err := api.ServiceEdgeRouterPolicy.ListServiceEdgeRouterPolicies(service_edge_router_policy.NewListServiceEdgeRouterPoliciesParamsWithContext(e.ctx).WithFilter(&f), nil)
			if err != nil || len(l.Payload.Data) != 1 {
				return fmt.Errorf("service edge router policy not found: %w", err)
			}
			_, err = api.ServiceEdgeRouterPolicy.DeleteServiceEdgeRouterPolicy(service_edge_router_policy.NewDeleteServiceEdgeRouterPolicyParamsWithContext(e.ctx).WithID(*l.Payload.Data[0].ID), nil)
			return err
		},
		"intercept config": func() error {
			f := `name = "agentmesh.intercept.weather-feed"`
			l, err := api.Config.ListConfigs(config.NewListConfigsParamsWithContext(e.ctx).WithFilter(&f), nil)
			if err != nil || len(l.Payload.Data) != 1 {
				return fmt.Errorf("intercept config not found: %w", err)
			}
			_, err = api.Config.PatchConfig(config.NewPatchConfigParamsWithContext(e.ctx).WithID(*l.Payload.Data[0].ID).WithConfig(&rest_model.ConfigPatch{
				Data: map[string]any{"protocols": []string{"tcp"}, "addresses": []string{"attacker.example"}, "portRanges": []any{map[string]any{"low": 1, "high": 65535}}},
			}), nil)
			return err
		},
		"service configs": func() error {
			_, err := api.Service.PatchService(service.NewPatchServiceParamsWithContext(e.ctx).WithID(equity.ServiceID).WithService(&rest_model.ServicePatch{Configs: []string{equity.ConfigID}}), nil)
			return err
		},
	}
	// Repaired once by the next apply, once by a reconcile pass.
	for _, repair := range []string{"apply", "reconcile"} {
		for kind, f := range sabotage {
			if err := f(); err != nil {
				return fmt.Errorf("sabotaging %s: %w", kind, err)
			}
		}
		out, err := e.tofu(w, nil, "plan")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "converged") {
			return fmt.Errorf("the plan did not flag the hand-made drift")
		}
		if repair == "apply" {
			err = e.applyUntilDone(w, nil)
		} else {
			_, err = eng.Reconcile(e.ctx)
		}
		if err != nil {
			return fmt.Errorf("repair by %s: %w", repair, err)
		}
		check := Row{}
		if err := e.measure(w, &check); err != nil {
			return err
		}
		if check.Converged != 1 {
			return fmt.Errorf("repair by %s left drift behind", repair)
		}
	}
	row.Note = fmt.Sprintf("%d kinds deleted or edited by hand, twice per trial: repaired by the next apply, then by one reconcile pass", len(sabotage))
	return e.measure(w, row)
}
