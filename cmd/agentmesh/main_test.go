package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/config"
	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_management_api_client/service"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/reconciler"
)

func TestMain(m *testing.M) { acctest.Main(m) }

// scenario builds a tiny governed network: host and reader in one
// workgroup, one endpoint.
func scenario(t *testing.T) (*reconciler.Engine, string, string) {
	return scenarioNamed(t, "cli", "weather", "weather-co")
}

// scenarioNamed is scenario under other names: <prefix>-host and
// <prefix>-reader of org in workgroup <prefix>-<topic>, endpoint
// <prefix>-<topic>-feed under contract <prefix>-contract.
func scenarioNamed(t *testing.T, prefix, topic, org string) (*reconciler.Engine, string, string) {
	t.Helper()
	ctx := context.Background()
	e := acctest.Engine(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	wg := prefix + "-" + topic
	host, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: prefix + "-host", Organization: org, Kind: reconciler.KindAgent})
	must(err)
	reader, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: prefix + "-reader", Organization: org, Kind: reconciler.KindAgent})
	must(err)
	_, err = e.CreateWorkgroup(ctx, &reconciler.Workgroup{Name: wg, OwnerOrganization: org})
	must(err)
	_, err = e.CreateMembership(ctx, &reconciler.Membership{Workgroup: wg, Identity: host.ID, Role: "admin"})
	must(err)
	_, err = e.CreateMembership(ctx, &reconciler.Membership{Workgroup: wg, Identity: reader.ID, Role: "member"})
	must(err)
	_, err = e.CreateContract(ctx, &reconciler.Contract{Name: prefix + "-contract", OwnerOrganization: org, AllowedMessageTypes: []string{"*"}, AccessMode: "open"})
	must(err)
	ep, err := e.CreateEndpoint(ctx, &reconciler.Endpoint{Name: wg + "-feed", Host: host.ID, Workgroups: []string{wg}, Contract: prefix + "-contract"})
	must(err)
	return e, reader.ID, ep.ServiceID
}

func dialers(t *testing.T, e *reconciler.Engine, sid string) string {
	t.Helper()
	names, err := e.Dialers(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(names)
}

// sabotage deletes the endpoint's Dial policy and strips the reader's wg
// role, by hand.
func sabotage(t *testing.T, e *reconciler.Engine, reader string) {
	t.Helper()
	api := e.Client().API
	l, err := api.ServicePolicy.ListServicePolicies(service_policy.NewListServicePoliciesParams().WithFilter(ptr(`name = "agentmesh.dial.cli-weather-feed.cli-weather"`)), nil)
	if err != nil || len(l.Payload.Data) != 1 {
		t.Fatalf("dial policy: %v", err)
	}
	if _, err := api.ServicePolicy.DeleteServicePolicy(service_policy.NewDeleteServicePolicyParams().WithID(*l.Payload.Data[0].ID), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Identity.PatchIdentity(identity.NewPatchIdentityParams().WithID(reader).WithIdentity(&rest_model.IdentityPatch{RoleAttributes: &rest_model.Attributes{"org.weather-co"}}), nil); err != nil {
		t.Fatal(err)
	}
}

func TestReconcileOnceRepairsDrift(t *testing.T) {
	e, reader, sid := scenario(t)
	if got := dialers(t, e, sid); got != "[cli-host cli-reader]" {
		t.Fatalf("before: %s", got)
	}
	sabotage(t, e, reader)
	if got := dialers(t, e, sid); got != "[]" {
		t.Fatalf("sabotage did not bite: %s", got)
	}

	// The same plan as JSON, in the documented shape.
	var js, jsErr bytes.Buffer
	if rc := run(context.Background(), []string{"--dry-run", "--output", "json", "--log-format", "json"}, &js, &jsErr); rc != 0 {
		t.Fatalf("dry-run json rc=%d: %s", rc, jsErr.String())
	}
	var pass struct {
		DryRun  bool `json:"dry_run"`
		Changes []struct{ Action, Kind, Name string }
		Access  struct {
			Gained []struct{ Identity, Target string }
		}
	}
	if err := json.Unmarshal(js.Bytes(), &pass); err != nil || !pass.DryRun || len(pass.Changes) == 0 {
		t.Fatalf("--output json: %v %s", err, js.String())
	}
	found := false
	for _, g := range pass.Access.Gained {
		found = found || g.Identity == "cli-reader" && g.Target == "cli-weather-feed"
	}
	if !found {
		t.Fatalf("the JSON access diff lacks cli-reader -> cli-weather-feed: %s", js.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(jsErr.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("--log-format json wrote a line that is not JSON: %q", line)
		}
	}

	var out, errOut bytes.Buffer
	if rc := run(context.Background(), []string{"--dry-run"}, &out, &errOut); rc != 0 {
		t.Fatalf("dry-run rc=%d: %s", rc, errOut.String())
	}
	for _, want := range []string{
		"would apply",
		"create service-policy   agentmesh.dial.cli-weather-feed.cli-weather",
		"update identity-roles   cli-reader  (workgroups [] -> [cli-weather])",
		"+ cli-reader -> cli-weather-feed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out.String())
		}
	}
	if got := dialers(t, e, sid); got != "[]" {
		t.Fatalf("dry-run changed something: %s", got)
	}
	if rc := run(context.Background(), []string{"--dry-run", "--detailed-exitcode"}, &bytes.Buffer{}, &errOut); rc != 2 {
		t.Fatalf("--detailed-exitcode with drift: rc=%d, want 2: %s", rc, errOut.String())
	}

	out.Reset()
	if rc := run(context.Background(), []string{"--once"}, &out, &errOut); rc != 0 {
		t.Fatalf("once rc=%d: %s", rc, errOut.String())
	}
	if got := dialers(t, e, sid); got != "[cli-host cli-reader]" {
		t.Fatalf("after --once: %s\n%s", got, out.String())
	}
	out.Reset()
	if rc := run(context.Background(), []string{"--dry-run"}, &out, &errOut); rc != 0 || !strings.Contains(out.String(), "No changes") {
		t.Fatalf("a converged network must plan nothing (rc=%d):\n%s", rc, out.String())
	}
	if rc := run(context.Background(), []string{"--dry-run", "--detailed-exitcode"}, &bytes.Buffer{}, &errOut); rc != 0 {
		t.Fatalf("--detailed-exitcode when converged: rc=%d, want 0: %s", rc, errOut.String())
	}

	// --watch repairs within one interval.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- run(ctx, []string{"--watch", "--interval", "200ms"}, &bytes.Buffer{}, &bytes.Buffer{}) }()
	sabotage(t, e, reader)
	// Generous: one pass logs in and plans the whole network on a loaded
	// controller; the interval is what bounds it, not this deadline.
	deadline := time.Now().Add(60 * time.Second)
	for dialers(t, e, sid) != "[cli-host cli-reader]" {
		if time.Now().After(deadline) {
			t.Fatal("--watch did not repair the drift within 60 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if rc := <-done; rc != 0 {
		t.Fatalf("--watch exited with %d after interrupt", rc)
	}
}

// TestDryRunShowsGatewayAccess: a membership removed behind the
// reconciler's back shows in the dry run as the identity losing its LLM
// gateway, in the same diff as endpoints, and --once removes the
// data-plane service.
func TestDryRunShowsGatewayAccess(t *testing.T) {
	ctx := context.Background()
	e := acctest.Engine(t)
	e.SetGatewayTimeout(time.Second)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	gw, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "cli-gw", Organization: "desk-co", Kind: reconciler.KindGateway})
	must(err)
	analyst, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: "cli-analyst", Organization: "desk-co", Kind: reconciler.KindAgent})
	must(err)
	_, err = e.CreateWorkgroup(ctx, &reconciler.Workgroup{Name: "cli-desk", OwnerOrganization: "desk-co"})
	must(err)
	m, err := e.CreateMembership(ctx, &reconciler.Membership{Workgroup: "cli-desk", Identity: analyst.ID, Role: "admin"})
	must(err)
	_, err = e.CreateGateway(ctx, &reconciler.Gateway{Name: "cli-llm", Kind: "llm", Identity: gw.ID, Listen: "127.0.0.1:18998", LocalBaseURL: "http://127.0.0.1:9"})
	must(err)
	// No agent runs: the route is recorded and its push times out.
	if _, _, err := e.CreateLLMRoute(ctx, &reconciler.LLMRoute{Gateway: "cli-llm", Name: "chat", Model: "llama3", Workgroups: []string{"cli-desk"}}); !errors.Is(err, reconciler.ErrGatewayDown) {
		t.Fatalf("route without an agent: %v", err)
	}
	svc := reconciler.DataPlaneService("cli-llm", "cli-analyst")
	if got := dialersOfName(t, e, svc); got != "[cli-analyst]" {
		t.Fatalf("data plane before: %s", got)
	}
	if _, err := e.Client().API.Config.DeleteConfig(config.NewDeleteConfigParams().WithID(m.ID), nil); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	if rc := run(ctx, []string{"--dry-run", "--detailed-exitcode"}, &out, &errOut); rc != 2 {
		t.Fatalf("dry-run rc=%d: %s\n%s", rc, errOut.String(), out.String())
	}
	for _, want := range []string{
		"delete service " + svc,
		"- cli-analyst -> llm cli-llm",
		"update gateway-table cli-llm (serves nobody)",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if rc := run(ctx, []string{"--once"}, &out, &errOut); rc != 0 {
		t.Fatalf("--once rc=%d: %s\n%s", rc, errOut.String(), out.String())
	}
	l, err := e.Client().API.Service.ListServices(service.NewListServicesParams().WithFilter(ptr(`name = "`+svc+`"`)), nil)
	if err != nil || len(l.Payload.Data) != 0 {
		t.Fatalf("the data-plane service outlived the membership: %v", err)
	}
	// The network is repaired; the table cannot reach an agent that does
	// not run, so the gateway stays not converged, and says so.
	out.Reset()
	if rc := run(ctx, []string{"--dry-run", "--detailed-exitcode"}, &out, &errOut); rc != 2 || !strings.Contains(strings.Join(strings.Fields(out.String()), " "), "update gateway-table cli-llm") || strings.Contains(out.String(), "service-policy") {
		t.Fatalf("after --once without an agent: rc=%d\n%s", rc, out.String())
	}
}

// dialersOfName asks the controller who may dial a service, by name.
func dialersOfName(t *testing.T, e *reconciler.Engine, name string) string {
	t.Helper()
	l, err := e.Client().API.Service.ListServices(service.NewListServicesParams().WithFilter(ptr(`name = "`+name+`"`)), nil)
	if err != nil || len(l.Payload.Data) != 1 {
		t.Fatalf("service %s: %v", name, err)
	}
	return dialers(t, e, *l.Payload.Data[0].ID)
}

// TestDetailedExitcodeError: a pass that cannot run exits 1, never 0 or 2.
func TestDetailedExitcodeError(t *testing.T) {
	t.Setenv("AGENTMESH_ENDPOINT", "https://127.0.0.1:1")
	t.Setenv("AGENTMESH_MAX_RETRIES", "0")
	var errOut bytes.Buffer
	if rc := run(context.Background(), []string{"--dry-run", "--detailed-exitcode"}, &bytes.Buffer{}, &errOut); rc != 1 {
		t.Fatalf("unreachable controller: rc=%d, want 1: %s", rc, errOut.String())
	}
	if rc := run(context.Background(), []string{"--watch", "--detailed-exitcode"}, &bytes.Buffer{}, &errOut); rc != 2 || !strings.Contains(errOut.String(), "excludes --watch") {
		t.Fatalf("--detailed-exitcode with --watch: rc=%d: %s", rc, errOut.String())
	}
}

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if rc := run(context.Background(), []string{"--once", "--watch"}, &out, &errOut); rc != 2 || !strings.Contains(errOut.String(), "exclude") {
		t.Fatalf("rc=%d %s", rc, errOut.String())
	}
}

func ptr[T any](v T) *T { return &v }

// TestGatewayAgentRefusesBadConfig: the packaged agent says what is wrong
// with its configuration and exits 2 before touching the network.
func TestGatewayAgentRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ config, want string }{
		"typo": {"kind: llm\nidentity_file: gw.json\ncontrol_service: agentmesh.ctl.llm\nstate_dir: s\ncommand: [llm-gateway, run, \"{config}\"]\nlisten: 127.0.0.1:8080\nlisen: x\n",
			"field lisen not found"},
		"reachable port": {"kind: llm\nidentity_file: gw.json\ncontrol_service: agentmesh.ctl.llm\nstate_dir: s\ncommand: [llm-gateway, run, \"{config}\"]\nlisten: 0.0.0.0:8080\n",
			`listen "0.0.0.0:8080" must be the gateway's loopback host:port`},
		"no config placeholder": {"kind: mcp\nidentity_file: gw.json\ncontrol_service: agentmesh.ctl.mcp\nstate_dir: s\ncommand: [mcp-gateway, run, mcp.yml]\n",
			"command must run the gateway and pass it {config}"},
		"missing fields": {"kind: llm\n", "identity_file is required"},
	}
	for name, c := range cases {
		file := dir + "/" + strings.ReplaceAll(name, " ", "-") + ".yaml"
		if err := os.WriteFile(file, []byte(c.config), 0o600); err != nil {
			t.Fatal(err)
		}
		var errOut bytes.Buffer
		if rc := runAgent(context.Background(), []string{"--config", file}, &errOut); rc != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%s: rc=%d, want 2 and %q in %q", name, rc, c.want, errOut.String())
		}
	}
	var errOut bytes.Buffer
	if rc := runAgent(context.Background(), nil, &errOut); rc != 2 || !strings.Contains(errOut.String(), "--config is required") {
		t.Errorf("no --config: rc=%d %s", rc, errOut.String())
	}
}

// TestConventionalCLI: help exits 0 and names the AGENTMESH_* variables,
// version prints the build's version, and bad usage exits 2.
func TestConventionalCLI(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"reconcile", "--help"}, {"help"}} {
		var out, errOut bytes.Buffer
		if rc := execute(context.Background(), args, &out, &errOut); rc != 0 || !strings.Contains(out.String(), "AGENTMESH_ENDPOINT") || !strings.Contains(out.String(), "AGENTMESH_GATEWAY_TIMEOUT_SECONDS") {
			t.Fatalf("%v: rc=%d\n%s%s", args, rc, out.String(), errOut.String())
		}
	}
	version = "v9.9.9-test"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out bytes.Buffer
		if rc := execute(context.Background(), args, &out, &bytes.Buffer{}); rc != 0 || strings.TrimSpace(out.String()) != "agentmesh v9.9.9-test" {
			t.Fatalf("%v: rc=%d %q", args, rc, out.String())
		}
	}
	for _, args := range [][]string{{"frobnicate"}, {"reconcile", "--no-such-flag"}, {"reconcile", "--output", "yaml"}, {"reconcile", "--log-format", "xml"}} {
		var errOut bytes.Buffer
		if rc := execute(context.Background(), args, &bytes.Buffer{}, &errOut); rc != 2 || errOut.Len() == 0 {
			t.Fatalf("%v: rc=%d %q", args, rc, errOut.String())
		}
	}
}
