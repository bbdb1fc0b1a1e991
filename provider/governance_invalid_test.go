package provider_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

const badBase = `
resource "agentmesh_identity" "m" {
  name         = "bad-markets-agent"
  organization = "markets-co"
}
resource "agentmesh_identity" "s" {
  name         = "bad-signals-agent"
  organization = "signals-co"
}
resource "agentmesh_workgroup" "w" {
  name               = "bad-markets-only"
  owner_organization = "markets-co"
}
resource "agentmesh_contract" "c" {
  name                  = "bad-contract"
  owner_organization    = "markets-co"
  allowed_message_types = ["*"]
}
`

func TestAccGovernance_badInput(t *testing.T) {
	planTime := []struct{ name, cfg, want string }{
		{"negative limit", `resource "agentmesh_contract" "x" {
  name = "neg"
  owner_organization = "markets-co"
  allowed_message_types = ["*"]
  max_message_bytes = -1
}`, `max_message_bytes.*must be at least 0`},
		{"upper-case workgroup", `resource "agentmesh_workgroup" "x" {
  name = "Markets"
  owner_organization = "markets-co"
}`, `Invalid name.*lower-case`},
		{"endpoint without scope", `resource "agentmesh_endpoint" "x" {
  name = "x"
  host = "abc"
  workgroups = []
  contract = "c"
}`, `workgroups.*at least 1`},
		{"unknown membership role", `resource "agentmesh_workgroup_membership" "x" {
  workgroup = "w"
  identity = "abc"
  role = "owner"
}`, `role.*value must be one of`},
		{"unknown interaction pattern", `resource "agentmesh_endpoint" "x" {
  name = "x"
  host = "abc"
  workgroups = ["w"]
  contract = "c"
  interaction_patterns = ["telepathy"]
}`, `interaction_patterns.*value must be one of`},
		{"port out of range", `resource "agentmesh_endpoint" "x" {
  name = "x"
  host = "abc"
  workgroups = ["w"]
  contract = "c"
  intercept = { addresses = ["x.ziti"], port = 70000 }
}`, `intercept.port.*between 1 and 65535`},
		{"unknown access mode", `resource "agentmesh_contract" "x" {
  name = "c"
  owner_organization = "markets-co"
  allowed_message_types = ["*"]
  access_mode = "whenever"
}`, `access_mode.*value must be one of`},
	}
	for _, tc := range planTime {
		t.Run("plan/"+tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				Steps:                    []resource.TestStep{{Config: tc.cfg, PlanOnly: true, ExpectError: errorText(tc.want)}},
			})
		})
	}

	applyTime := []struct{ name, cfg, want, mustNotExist string }{
		{"membership across organisations", badBase + `
resource "agentmesh_workgroup_membership" "x" {
  workgroup = agentmesh_workgroup.w.name
  identity  = agentmesh_identity.s.id
}`, `"bad-signals-agent" belongs to organisation signals-co, which is neither the owner \(markets-co\) nor a participant`, ""},
		{"endpoint scoped to a missing workgroup", badBase + `
resource "agentmesh_endpoint" "x" {
  name       = "bad-endpoint"
  host       = agentmesh_identity.m.id
  workgroups = ["no-such-workgroup"]
  contract   = agentmesh_contract.c.name
}`, `workgroup "no-such-workgroup" does not exist; create it first`, "bad-endpoint"},
		{"duplicate workgroup names", badBase + `
resource "agentmesh_workgroup" "dup" {
  name               = "bad-markets-only"
  owner_organization = "markets-co"
  depends_on         = [agentmesh_workgroup.w]
}`, `workgroup "bad-markets-only" is declared more than once`, ""},
		{"participant equal to owner", `
resource "agentmesh_workgroup" "x" {
  name                        = "bad-self-invite"
  owner_organization          = "markets-co"
  participating_organizations = ["markets-co"]
}`, `participating_organizations: "markets-co" is the owner`, ""},
	}
	for _, tc := range applyTime {
		t.Run("apply/"+tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				Steps:                    []resource.TestStep{{Config: tc.cfg, ExpectError: errorText(tc.want)}},
			})
			if tc.mustNotExist != "" {
				_, e := admin(t)
				if _, err := e.FindEndpoint(context.Background(), tc.mustNotExist); !controller.IsNotFound(err) {
					t.Fatalf("half-created endpoint %s: %v", tc.mustNotExist, err)
				}
			}
		})
	}

	// Nothing from these cases is left on the controller.
	_, e := admin(t)
	for _, wg := range []string{"bad-markets-only", "bad-self-invite"} {
		if _, err := e.FindWorkgroup(context.Background(), wg); !controller.IsNotFound(err) {
			t.Errorf("workgroup %s left behind: %v", wg, err)
		}
	}
	if _, err := e.FindContract(context.Background(), "bad-contract"); !controller.IsNotFound(err) {
		t.Errorf("contract left behind: %v", fmt.Sprint(err))
	}
}
