package provider_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/edge-api/rest_model"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/reconciler"
)

// mcpFront is the network of TestAccMCPFront_byIdentity: one mcp gateway
// with two routes to different audiences.
type mcpFront struct {
	notes       string
	routes      bool
	dropReader  bool // mf-reader's membership deleted
	dropAuditor bool // the vault route no longer names mf-auditor (in place)
	unknownTool bool // the notes route allows a tool the backend lacks
}

func (m mcpFront) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, `
variable "share" {
  type      = string
  sensitive = true
  ephemeral = true
}
resource "agentmesh_identity" "gw" {
  name         = "mf-gw-agent"
  organization = "ops-co"
  kind         = "gateway"
}
resource "agentmesh_workgroup" "users" {
  name               = "mf-users"
  owner_organization = "ops-co"
}
resource "agentmesh_gateway" "mcp" {
  name                = "mf-mcp"
  kind                = "mcp"
  identity            = agentmesh_identity.gw.id
  mcp_connect_timeout = "10s"
  mcp_share_token_wo  = var.share
}
`)
	for _, n := range []string{"reader", "analyst", "auditor", "outsider"} {
		fmt.Fprintf(&b, `
resource "agentmesh_identity" %[1]q {
  name         = "mf-%[1]s"
  organization = "ops-co"
}
`, n)
	}
	for _, n := range []string{"reader", "analyst"} {
		if n == "reader" && m.dropReader {
			continue
		}
		fmt.Fprintf(&b, `
resource "agentmesh_workgroup_membership" %[1]q {
  workgroup = agentmesh_workgroup.users.name
  identity  = agentmesh_identity.%[1]s.id
  role      = "member"
}
`, n)
	}
	if !m.routes {
		return b.String()
	}
	vault := "agentmesh_identity.analyst.id, agentmesh_identity.auditor.id"
	if m.dropAuditor {
		vault = "agentmesh_identity.analyst.id"
	}
	tools := `["read_*", "list_*"]`
	if m.unknownTool {
		tools = `["read_*", "list_*", "summarize_note"]`
	}
	fmt.Fprintf(&b, `
resource "agentmesh_mcp_route" "notes" {
  gateway    = agentmesh_gateway.mcp.name
  namespace  = "notes"
  type       = "stdio"
  command    = %[1]q
  tools      = %[2]s
  workgroups = [agentmesh_workgroup.users.name]
}
resource "agentmesh_mcp_route" "vault" {
  gateway    = agentmesh_gateway.mcp.name
  namespace  = "vault"
  type       = "stdio"
  command    = %[1]q
  tools_mode = "deny"
  tools      = ["write_*", "delete_*"]
  identities = [%[3]s]
}
`, m.notes, tools, vault)
	return b.String()
}

// TestAccMCPFront_byIdentity: the MCP front, end to end on real parts: the
// real controller and router, OpenTofu, the real mcp-gateway v0.1.3 on a
// share reserved in closed mode on a local zrok, its go-sdk backend, the
// packaged agent reaching the share through `zrok2 access private`, and
// clients speaking MCP over their own dark services.
//   - Two routes with different audiences share one gateway. Each identity
//     lists exactly the tools its routes allow (overlapping routes add
//     up), calls them, and a call outside its view is refused with the
//     rule that refuses it.
//   - An identity no route serves has no MCP service to list or dial, and
//     one identity's session is unknown to another (404).
//   - A second zrok account holding the share token is refused by zrok.
//   - Leaving the audience (a deleted membership, a route's identities
//     changed in place) revokes in the same apply: the service is gone
//     and an open session ends, while the others keep working; the
//     gateway's config does not change, so it is not restarted.
//   - reconcile's plan shows a hand-made grant on an MCP service as a loss.
//   - An unknown tool name is warned about; the service serves again after
//     the route's replacement restarts the gateway, after the gateway is
//     killed, and after the zrok2 access is killed.
func TestAccMCPFront_byIdentity(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	z, share, notes, gw := realMCPParts(t, dir, "accmcpfront"+strings.Repeat("7", 6))
	zrok, err := acctest.Gateway("zrok2")
	if err != nil {
		t.Fatal(err)
	}
	ag := &packagedAgent{cfg: agent.Config{Kind: "mcp", ControlService: reconciler.ControlService("mf-mcp"), StateDir: filepath.Join(dir, "state"),
		Command: []string{gw, "run", "{config}"}, Zrok: zrok, Env: map[string]string{"HOME": z.Home, "ZROK2_API_ENDPOINT": z.APIEndpoint}}}
	defer ag.halt()
	startAgent := ag.enrollAndStart(t, dir)

	who := map[string]reach{}
	svc := func(n string) string { return reconciler.MCPDataPlaneService("mf-mcp", "mf-"+n) }
	session := func(n string) (*mcp.ClientSession, error) {
		cs, err := acctest.MCPOverZiti(ctx, who[n].z, svc(n))
		if err != nil {
			return nil, fmt.Errorf("%s: opening an MCP session over its data plane: %w", n, err)
		}
		return cs, nil
	}
	enroll := func(s *terraform.State) error {
		for _, n := range []string{"reader", "analyst", "auditor", "outsider"} {
			_, cfg, err := acctest.Enroll(s.RootModule().Resources["agentmesh_identity."+n].Primary.Attributes["enrollment_jwt"], dir, n)
			if err != nil {
				return err
			}
			zc, err := ziti.NewContext(cfg)
			if err != nil {
				return err
			}
			t.Cleanup(zc.Close)
			who[n] = reach{cfg: cfg, z: zc}
		}
		return nil
	}
	lists := func(n string) (bool, error) {
		seen, err := acctest.ServicesAs(who[n].cfg)
		if err != nil {
			return false, err
		}
		for name := range seen {
			if strings.HasPrefix(name, reconciler.MCPDataPlaneService("mf-mcp", "")) && name != svc(n) {
				return false, fmt.Errorf("%s lists another identity's MCP service %s", n, name)
			}
		}
		_, ok := seen[svc(n)]
		return ok, nil
	}
	views := map[string][]string{
		"reader":  {"notes_list_notes", "notes_read_note"},
		"analyst": {"notes_list_notes", "notes_read_note", "vault_list_notes", "vault_read_note"},
		"auditor": {"vault_list_notes", "vault_read_note"},
	}
	var (
		readerSession *mcp.ClientSession
		servedConfig  string // the gateway's config once the routes are served
	)
	served := func(*terraform.State) error {
		for n, want := range views {
			cs, err := session(n)
			if err != nil {
				return err
			}
			if n == "reader" {
				readerSession = cs // kept open across its revocation
			} else {
				defer cs.Close()
			}
			got, err := acctest.ToolsOf(ctx, cs)
			if err != nil || !slices.Equal(got, want) {
				return fmt.Errorf("%s lists %v, want %v: %w", n, got, want, err)
			}
			if out, err := acctest.CallText(ctx, cs, want[1], map[string]any{"name": "welcome"}); err != nil || !strings.Contains(out, "served by mcp-notes") {
				return fmt.Errorf("%s calling %s in its view: %q: %w", n, want[1], out, err)
			}
		}
		cs, err := session("auditor")
		if err != nil {
			return err
		}
		defer cs.Close()
		for tool, rule := range map[string]string{
			"notes_read_note":   `route "notes" does not serve it`,
			"vault_write_note":  `route "vault" denies write_*, delete_*`,
			"notes_delete_note": `route "notes" does not serve it`,
			"elsewhere_tool":    `no route of this gateway has that namespace`,
		} {
			if out, err := acctest.CallText(ctx, cs, tool, map[string]any{"name": "welcome", "text": "x"}); err == nil || !strings.Contains(err.Error(), rule) {
				return fmt.Errorf("auditor calling %s outside its view: %q, want the refusal %q: %w", tool, out, rule, err)
			}
		}
		if err := sessionsAreTheirOwn(ctx, who["analyst"].z, svc("analyst"), who["auditor"].z, svc("auditor")); err != nil {
			return err
		}
		_, e := admin(t)
		st, err := e.GatewayStatus(ctx, "mf-mcp")
		if err != nil {
			return err
		}
		servedConfig = st.ConfigSHA256
		if ok, err := lists("outsider"); err != nil || ok {
			return fmt.Errorf("the outsider lists an MCP service (listed: %v): %w", ok, err)
		}
		if c, err := who["outsider"].z.Dial(svc("reader")); err == nil {
			c.Close()
			return fmt.Errorf("the outsider dialed the reader's MCP service")
		}
		// The share admits the gateway's zrok account only.
		other, err := z.SecondAccount(ctx, "intruder@agentmesh.test")
		if err != nil {
			return err
		}
		// Refused by zrok when it asks for an access, not lost on the
		// way (a failure of another kind is tried again).
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := acctest.DialMCPWith(other, share)
			if err == nil {
				c.Close()
				return fmt.Errorf("a second zrok account reached the closed share")
			}
			if strings.Contains(err.Error(), "failed to create access") {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("a second zrok account failed on the closed share, but not by zrok's refusal: %w", err)
			}
			time.Sleep(time.Second)
		}
		return nil
	}
	revoked := func(*terraform.State) error {
		if ok, err := lists("reader"); err != nil || ok {
			return fmt.Errorf("after the membership's deletion the reader still lists its MCP service (listed: %v): %w", ok, err)
		}
		if c, err := who["reader"].z.Dial(svc("reader")); err == nil {
			c.Close()
			return fmt.Errorf("after the membership's deletion the reader still dials its MCP service")
		}
		// Ended by the front (the stream closes), not refused by a
		// broken path (a 502 would prove nothing).
		if _, err := acctest.ToolsOf(ctx, readerSession); err == nil || strings.Contains(err.Error(), "502") {
			return fmt.Errorf("the reader's open session outlived its membership: %w", err)
		}
		if ok, err := lists("auditor"); err != nil || ok {
			return fmt.Errorf("after the vault route's identities changed the auditor still lists its MCP service (listed: %v): %w", ok, err)
		}
		// An audience change does not change the gateway's config, so
		// the supervisor does not restart it.
		_, e := admin(t)
		st, err := e.GatewayStatus(ctx, "mf-mcp")
		if err != nil {
			return err
		}
		if st.ConfigSHA256 != servedConfig {
			return fmt.Errorf("an audience change rewrote the gateway's config: %s, was %s", st.ConfigSHA256, servedConfig)
		}
		cs, err := session("analyst")
		if err != nil {
			return err
		}
		defer cs.Close()
		if got, err := acctest.ToolsOf(ctx, cs); err != nil || !slices.Equal(got, views["analyst"]) {
			return fmt.Errorf("the analyst lists %v after others' revocations: %w", got, err)
		}
		return nil
	}
	// A grant made by hand on the analyst's MCP service, for the outsider:
	// reconcile's plan reports it as access to lose.
	handGrant := func(*terraform.State) error {
		_, e := admin(t)
		name := "agentmesh.gw.dial." + svc("analyst")
		pols, err := e.Client().API.ServicePolicy.ListServicePolicies(service_policy.NewListServicePoliciesParams().WithFilter(ptr(fmt.Sprintf("name = %q", name))), nil)
		if err != nil || len(pols.Payload.Data) != 1 {
			return fmt.Errorf("the analyst's dial policy (want exactly one): %w", err)
		}
		p := pols.Payload.Data[0]
		outsider, err := e.FindIdentityByName(ctx, "mf-outsider")
		if err != nil {
			return err
		}
		if _, err := e.Client().API.ServicePolicy.PatchServicePolicy(service_policy.NewPatchServicePolicyParams().WithID(*p.ID).WithPolicy(&rest_model.ServicePolicyPatch{
			IdentityRoles: append(rest_model.Roles{}, append(p.IdentityRoles, "@"+outsider.ID)...),
		}), nil); err != nil {
			return err
		}
		plan, err := e.PlanChanges(ctx)
		if err != nil {
			return err
		}
		var lost []string
		for _, g := range plan.Lost {
			lost = append(lost, plan.Describe(g))
		}
		if want := "mf-outsider -> mcp mf-mcp"; !slices.Contains(lost, want) {
			return fmt.Errorf("the plan's access diff lacks %q: %v (changes %v)", want, lost, plan.Changes)
		}
		if _, err := e.Reconcile(ctx); err != nil {
			return err
		}
		if ok, err := lists("outsider"); err != nil || ok {
			return fmt.Errorf("after reconcile the outsider still lists an MCP service (listed: %v): %w", ok, err)
		}
		return nil
	}
	// analystServed opens a new session as the analyst and checks its view.
	analystServed := func(when string) error {
		cs, err := session("analyst")
		if err != nil {
			return fmt.Errorf("%s: %w", when, err)
		}
		defer cs.Close()
		if got, err := acctest.ToolsOf(ctx, cs); err != nil || !slices.Equal(got, views["analyst"]) {
			return fmt.Errorf("%s the analyst lists %v: %w", when, got, err)
		}
		return nil
	}
	net0 := mcpFront{notes: notes}
	withRoutes := net0
	withRoutes.routes = true
	dropped := withRoutes
	dropped.dropReader, dropped.dropAuditor = true, true
	unknown := dropped
	unknown.unknownTool = true
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			// The agent starts after this apply, so the share token is
			// delivered by the next one.
			{Config: net0.config(), Check: resource.ComposeTestCheckFunc(startAgent, enroll), ExpectNonEmptyPlan: true},
			{Config: withRoutes.config(), Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr("agentmesh_gateway.mcp", "data_plane_service_prefix", reconciler.MCPDataPlaneService("mf-mcp", "")),
				served)},
			{
				Config: dropped.config(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("agentmesh_workgroup_membership.reader", plancheck.ResourceActionDestroy),
					plancheck.ExpectResourceAction("agentmesh_mcp_route.vault", plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(revoked, handGrant),
			},
			{
				// A tool name the backend lacks: the apply that reaches
				// the gateway says so, naming the tool.
				Config: unknown.config(),
				Check: func(*terraform.State) error {
					_, e := admin(t)
					rep, err := e.PushGateway(ctx, "mf-mcp")
					if err != nil {
						return err
					}
					want := `mcp route "notes": tool "summarize_note" matches no tool its backend serves (it serves list_notes, read_note)`
					if !slices.Contains(rep.Warnings, want) {
						return fmt.Errorf("the gateway's warnings %q lack %q", rep.Warnings, want)
					}
					// The replaced route restarted the gateway on the same
					// reserved share: the analyst's service serves again.
					if err := analystServed("after the route's replacement"); err != nil {
						return err
					}
					// The gateway dies on its own: the supervisor restarts
					// it, the agent makes a new access, and the service
					// serves again.
					pid, err := gatewayPID(ag.cfg.StateDir)
					if err != nil {
						return err
					}
					if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
						return err
					}
					if err := analystServed("after the gateway was killed"); err != nil {
						return err
					}
					// The access dies on its own: its watcher starts a
					// new one, the relay follows it, and the service
					// serves again.
					if pid, err = accessPID(share); err != nil {
						return err
					}
					if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
						return err
					}
					if err := analystServed("after the zrok access was killed"); err != nil {
						return err
					}
					if again, err := accessPID(share); err != nil || again == pid {
						return fmt.Errorf("after the zrok access was killed, no new access runs (pid %d, was %d): %w", again, pid, err)
					}
					return nil
				},
			},
			{Config: unknown.config(), PlanOnly: true},
		},
	})
	if readerSession != nil {
		_ = readerSession.Close()
	}
}

// gatewayPID finds the mcp-gateway process the agent with this state
// directory runs (its command line names the config file there).
func gatewayPID(stateDir string) (int, error) {
	cfg := filepath.Join(stateDir, "mcp-gateway.yaml")
	return pidOf("mcp-gateway runs "+cfg, func(args []string) bool {
		return len(args) >= 3 && filepath.Base(args[0]) == "mcp-gateway" && args[1] == "run" && args[2] == cfg
	})
}

// sessionsAreTheirOwn opens the owner's event stream over its service and
// posts to the session it is given: as the owner the message is taken,
// as the other identity, over its own service, the session is unknown;
// a message whose keys differ only in case is refused, since the front
// and the gateway could read different tools from it.
func sessionsAreTheirOwn(ctx context.Context, owner ziti.Context, ownerSvc string, other ziti.Context, otherSvc string) error {
	over := func(z ziti.Context, svc string) *http.Client {
		return &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return z.Dial(svc) }}}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://mcp/sse", nil)
	if err != nil {
		return err
	}
	resp, err := over(owner, ownerSvc).Do(req)
	if err != nil {
		return fmt.Errorf("opening the owner's event stream: %w", err)
	}
	defer resp.Body.Close()
	var path string
	for sc, endpoint := bufio.NewScanner(resp.Body), false; path == "" && sc.Scan(); {
		line := sc.Text()
		endpoint = endpoint || line == "event: endpoint"
		if data, ok := strings.CutPrefix(line, "data: "); ok && endpoint {
			path = strings.TrimSpace(data)
		}
	}
	if path == "" {
		return fmt.Errorf("the owner's event stream (HTTP %d) named no endpoint", resp.StatusCode)
	}
	const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	post := func(c *http.Client, msg string) (int, error) {
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://mcp"+path, strings.NewReader(msg))
		if err != nil {
			return 0, err
		}
		r.Header.Set("Content-Type", "application/json")
		a, err := c.Do(r)
		if err != nil {
			return 0, err
		}
		_ = a.Body.Close()
		return a.StatusCode, nil
	}
	code, err := post(over(other, otherSvc), initialize)
	if err != nil {
		return fmt.Errorf("another identity posting to the owner's session %s: %w", path, err)
	}
	if code != http.StatusNotFound {
		return fmt.Errorf("another identity posting to the owner's session %s: HTTP %d, want 404", path, code)
	}
	if code, err = post(over(owner, ownerSvc), initialize); err != nil {
		return fmt.Errorf("the owner posting to its own session %s: %w", path, err)
	}
	if code >= 300 {
		return fmt.Errorf("the owner posting to its own session %s: HTTP %d", path, code)
	}
	ambiguous := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"vault_read_note","Name":"vault_write_note","arguments":{}}}`
	if code, err = post(over(owner, ownerSvc), ambiguous); err != nil {
		return fmt.Errorf("a tools/call naming two tools by keys equal but for case: %w", err)
	}
	if code != http.StatusBadRequest {
		return fmt.Errorf("a tools/call naming two tools by keys equal but for case: HTTP %d, want 400", code)
	}
	return nil
}

// accessPID finds the zrok2 access the agent runs to the share.
func accessPID(share string) (int, error) {
	return pidOf("zrok2 access reaches the share", func(args []string) bool {
		return len(args) >= 4 && filepath.Base(args[0]) == "zrok2" && args[1] == "access" && args[2] == "private" && args[3] == share
	})
}

// pidOf finds the one process whose command line matches.
func pidOf(what string, match func(args []string) bool) (int, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if match(strings.Split(string(b), "\x00")) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no process found: %s", what)
}
