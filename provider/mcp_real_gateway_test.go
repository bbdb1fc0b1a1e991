package provider_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways/agent"
)

// realMCPParts are what a test of the real mcp-gateway needs: the
// controller's zrok, a share reserved on it (closed), handed to the
// configuration as var.share, the go-sdk backend mcp-notes, and the
// mcp-gateway binary.
func realMCPParts(t *testing.T, dir, share string) (z *acctest.Zrok, token, notes, gateway string) {
	t.Helper()
	z, err := acctest.StartZrok(context.Background(), acctest.Shared)
	if err != nil {
		t.Fatal(err)
	}
	token = acctest.Secret("reserved mcp share "+share, share)
	if err := z.ReserveShare(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_VAR_share", token)
	if notes, err = acctest.BuildMCPNotes(dir); err != nil {
		t.Fatal(err)
	}
	if gateway, err = acctest.Gateway("mcp-gateway"); err != nil {
		t.Fatal(err)
	}
	return z, token, notes, gateway
}

func realMCPConfig(notes, args string) string {
	return fmt.Sprintf(`
resource "agentmesh_identity" "gw" {
  name = "acc-realmcp-agent"
  kind = "gateway"
}
resource "agentmesh_workgroup" "users" {
  name               = "acc-realmcp-users"
  owner_organization = "ops-co"
}
variable "share" {
  type      = string
  sensitive = true
  ephemeral = true
}
resource "agentmesh_gateway" "mcp" {
  name                = "acc-realmcp"
  kind                = "mcp"
  identity            = agentmesh_identity.gw.id
  mcp_separator       = "."
  mcp_connect_timeout = "10s"
  mcp_share_token_wo  = var.share
}
resource "agentmesh_mcp_route" "notes" {
  gateway    = agentmesh_gateway.mcp.name
  namespace  = "notes"
  type       = "stdio"
  command    = %q
  args       = %s
  tools      = ["read_*", "list_*"]
  workgroups = [agentmesh_workgroup.users.name]
}`, notes, args)
}

// TestAccMCPRoute_realGateway: a route applied in Terraform runs on the
// real mcp-gateway v0.1.3 under the packaged agent, over a local zrok, in
// front of a real go-sdk MCP server: the apply returns once the gateway
// serves, and its reserved share lists exactly the route's tools. A route
// whose backend fails discovery fails its apply with the gateway's own
// reason (the route's changes replace it, so the last good config left is
// the empty one: nothing runs); the good route then applies again on the
// same share.
func TestAccMCPRoute_realGateway(t *testing.T) {
	dir := t.TempDir()
	// A reserved share, handed to the gateway write-only: the same share
	// serves across the gateway's restarts.
	z, share, notes, bin := realMCPParts(t, dir, "accrealmcp"+strings.Repeat("4", 6))
	ag := &packagedAgent{cfg: agent.Config{Kind: "mcp", ControlService: "agentmesh.ctl.acc-realmcp", StateDir: filepath.Join(dir, "state"),
		Command: []string{bin, "run", "{config}"}, Env: map[string]string{"HOME": z.Home, "ZROK2_API_ENDPOINT": z.APIEndpoint}}}
	defer ag.halt()
	startAgent := ag.enrollAndStart(t, dir)
	serves := func(want ...string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			_, e := admin(t)
			st, err := e.GatewayStatus(context.Background(), "acc-realmcp")
			if err != nil {
				return err
			}
			if st.Status != "applied" {
				return fmt.Errorf("gateway status %+v", st)
			}
			got, err := acctest.ToolsOver(z, share)
			if err != nil {
				return fmt.Errorf("listing the running gateway's tools: %w", err)
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("the running gateway lists %v, want %v", got, want)
			}
			return nil
		}
	}
	base := strings.Replace(realMCPConfig(notes, "[]"), `resource "agentmesh_mcp_route" "notes"`, `resource "agentmesh_mcp_route" "unused"`, 1)
	base = base[:strings.Index(base, `resource "agentmesh_mcp_route" "unused"`)]
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			// The agent starts after this apply, so the share token is
			// delivered by the next one.
			{Config: base, Check: startAgent, ExpectNonEmptyPlan: true},
			{Config: realMCPConfig(notes, "[]"), Check: serves("notes.list_notes", "notes.read_note")},
			{
				Config:      realMCPConfig(notes, `["--fail"]`),
				ExpectError: acctest.ErrorText(`(?s)not applied on gateway acc-realmcp.*rolled.back.*failed to discover tools`),
			},
			{
				// The gateway went back to the last good config on the same
				// share; the good route applies again.
				Config: realMCPConfig(notes, "[]"),
				Check:  serves("notes.list_notes", "notes.read_note"),
			},
		},
	})
}
