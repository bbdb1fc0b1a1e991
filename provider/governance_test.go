package provider_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/openziti/edge-api/rest_management_api_client/config"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"

	"github.com/agentmesh/agentmesh/acctest"
)

// macroLite is a slice of Macro Pulse: markets-co and signals-co each offer
// an endpoint on their channel; enterprise-client's pulse agent joins both.
func macroLite(pulseInMarkets bool, required string) string {
	membership := ""
	if pulseInMarkets {
		membership = `
resource "agentmesh_workgroup_membership" "pulse_markets" {
  workgroup = agentmesh_workgroup.markets.name
  identity  = agentmesh_identity.pulse.id
}`
	}
	return fmt.Sprintf(`
resource "agentmesh_identity" "equity" {
  name         = "ml-equity-feed"
  organization = "markets-co"
}
resource "agentmesh_identity" "news" {
  name         = "ml-news-pulse"
  organization = "signals-co"
}
resource "agentmesh_identity" "pulse" {
  name         = "ml-pulse-agent"
  organization = "enterprise-client"
}

resource "agentmesh_workgroup" "markets" {
  name                        = "ml-markets-channel"
  owner_organization          = "markets-co"
  participating_organizations = ["enterprise-client"]
}
resource "agentmesh_workgroup" "signals" {
  name                        = "ml-signals-channel"
  owner_organization          = "signals-co"
  participating_organizations = ["enterprise-client"]
}
resource "agentmesh_workgroup" "vetted" {
  name               = "ml-vetted"
  owner_organization = "markets-co"
}

resource "agentmesh_workgroup_membership" "equity" {
  workgroup = agentmesh_workgroup.markets.name
  identity  = agentmesh_identity.equity.id
  role      = "admin"
}
resource "agentmesh_workgroup_membership" "equity_vetted" {
  workgroup = agentmesh_workgroup.vetted.name
  identity  = agentmesh_identity.equity.id
  role      = "admin"
}
resource "agentmesh_workgroup_membership" "news" {
  workgroup = agentmesh_workgroup.signals.name
  identity  = agentmesh_identity.news.id
  role      = "admin"
}
resource "agentmesh_workgroup_membership" "pulse_signals" {
  workgroup = agentmesh_workgroup.signals.name
  identity  = agentmesh_identity.pulse.id
}
%s

resource "agentmesh_contract" "default" {
  name                  = "ml-provider-default"
  owner_organization    = "markets-co"
  max_duration_seconds  = 60
  allowed_message_types = ["*"]
  required_workgroups   = [%s]
}

resource "agentmesh_endpoint" "equity" {
  name       = "ml-equity-feed"
  host       = agentmesh_identity.equity.id
  workgroups = [agentmesh_workgroup.markets.name]
  contract   = agentmesh_contract.default.name
  capabilities = [{ name = "quotes", description = "real-time equity quotes" }]
  interaction_patterns = ["stream"]
}
resource "agentmesh_endpoint" "news" {
  name       = "ml-news-pulse"
  host       = agentmesh_identity.news.id
  workgroups = [agentmesh_workgroup.signals.name]
  contract   = agentmesh_contract.default.name
}
`, membership, required)
}

// dialersOf asks the controller who may dial the endpoint in state.
func dialersOf(t *testing.T, s *terraform.State, res string) string {
	t.Helper()
	_, e := admin(t)
	names, err := e.Dialers(context.Background(), s.RootModule().Resources[res].Primary.ID)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(names)
}

func expectDialers(t *testing.T, want map[string]string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for res, w := range want {
			if got := dialersOf(t, s, res); got != w {
				return fmt.Errorf("%s: dialers %s, want %s", res, got, w)
			}
		}
		return nil
	}
}

func TestAccGovernance_macroLite(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			{
				Config: macroLite(true, ""),
				Check: expectDialers(t, map[string]string{
					"agentmesh_endpoint.equity": "[ml-equity-feed ml-pulse-agent]",
					"agentmesh_endpoint.news":   "[ml-news-pulse ml-pulse-agent]",
				}),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("agentmesh_workgroup.markets", tfjsonpath.New("role"), knownvalue.StringExact("#wg.ml-markets-channel")),
					statecheck.ExpectKnownValue("agentmesh_workgroup_membership.pulse_signals", tfjsonpath.New("role"), knownvalue.StringExact("member")),
					statecheck.ExpectKnownValue("agentmesh_contract.default", tfjsonpath.New("access_mode"), knownvalue.StringExact("open")),
					statecheck.ExpectKnownValue("agentmesh_endpoint.equity", tfjsonpath.New("capabilities").AtSliceIndex(0).AtMapKey("name"), knownvalue.StringExact("quotes")),
				},
			},
			{ResourceName: "agentmesh_workgroup.markets", ImportState: true, ImportStateVerify: true},
			{ResourceName: "agentmesh_workgroup_membership.pulse_signals", ImportState: true, ImportStateVerify: true},
			{ResourceName: "agentmesh_contract.default", ImportState: true, ImportStateVerify: true},
			{ResourceName: "agentmesh_endpoint.equity", ImportState: true, ImportStateVerify: true},
			{
				// Derived drift: a Dial policy deleted by hand shows in the
				// plan as converged false -> true, and apply restores it.
				PreConfig: func() { deletePolicy(t, "agentmesh.dial.ml-equity-feed.ml-markets-channel") },
				Config:    macroLite(true, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("agentmesh_endpoint.equity", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("agentmesh_endpoint.news", plancheck.ResourceActionNoop),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: expectDialers(t, map[string]string{"agentmesh_endpoint.equity": "[ml-equity-feed ml-pulse-agent]"}),
			},
			{
				// Intent drift: the workgroup edited by hand, a membership deleted by hand.
				PreConfig: func() {
					_, e := admin(t)
					ctx := context.Background()
					w, err := e.FindWorkgroup(ctx, "ml-signals-channel")
					if err != nil {
						t.Fatal(err)
					}
					w.Value.ParticipatingOrganizations = []string{"enterprise-client", "markets-co"}
					if _, err := e.UpdateWorkgroup(ctx, w.ID, &w.Value); err != nil {
						t.Fatal(err)
					}
					deleteMembershipOf(t, "ml-markets-channel", "ml-pulse-agent")
				},
				Config: macroLite(true, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("agentmesh_workgroup.signals", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("agentmesh_workgroup_membership.pulse_markets", plancheck.ResourceActionCreate),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: expectDialers(t, map[string]string{"agentmesh_endpoint.equity": "[ml-equity-feed ml-pulse-agent]"}),
			},
			{
				// pulse leaves markets-channel: it loses equity-feed in the same apply.
				Config: macroLite(false, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("agentmesh_workgroup_membership.pulse_markets", plancheck.ResourceActionDestroy)},
				},
				Check: expectDialers(t, map[string]string{
					"agentmesh_endpoint.equity": "[ml-equity-feed]",
					"agentmesh_endpoint.news":   "[ml-news-pulse ml-pulse-agent]",
				}),
			},
			{
				// The contract now requires ml-vetted: every endpoint under it narrows at once.
				Config: macroLite(true, `agentmesh_workgroup.vetted.name`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("agentmesh_contract.default", plancheck.ResourceActionUpdate)},
				},
				Check: expectDialers(t, map[string]string{
					"agentmesh_endpoint.equity": "[ml-equity-feed]",
					"agentmesh_endpoint.news":   "[]",
				}),
			},
		},
	})
}

func deletePolicy(t *testing.T, name string) {
	t.Helper()
	c, _ := admin(t)
	filter := fmt.Sprintf("name = %q", name)
	l, err := c.API.ServicePolicy.ListServicePolicies(service_policy.NewListServicePoliciesParams().WithFilter(&filter), nil)
	if err != nil || len(l.Payload.Data) != 1 {
		t.Fatalf("policy %s: %v", name, err)
	}
	if _, err := c.API.ServicePolicy.DeleteServicePolicy(service_policy.NewDeleteServicePolicyParams().WithID(*l.Payload.Data[0].ID), nil); err != nil {
		t.Fatal(err)
	}
}

func deleteMembershipOf(t *testing.T, workgroup, identityName string) {
	t.Helper()
	c, e := admin(t)
	ctx := context.Background()
	id, err := e.FindIdentityByName(ctx, identityName)
	if err != nil {
		t.Fatal(err)
	}
	filter := fmt.Sprintf("name = %q", "agentmesh.membership."+workgroup+"."+id.ID)
	l, err := c.API.Config.ListConfigs(config.NewListConfigsParams().WithFilter(&filter), nil)
	if err != nil || len(l.Payload.Data) != 1 {
		t.Fatalf("membership config: %v", err)
	}
	if _, err := c.API.Config.DeleteConfig(config.NewDeleteConfigParams().WithID(*l.Payload.Data[0].ID), nil); err != nil {
		t.Fatal(err)
	}
}
