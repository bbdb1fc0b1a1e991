package provider_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/openziti/edge-api/rest_management_api_client/config"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/sdk-golang/ziti"

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
  name         = "ml-news-pulse"
  host         = agentmesh_identity.news.id
  workgroups   = [agentmesh_workgroup.signals.name]
  contract     = agentmesh_contract.default.name
  intercept    = { addresses = ["news-pulse.macro.ziti"], port = 443 }
  host_address = { address = "127.0.0.1", port = 8443 }
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

// wire enrolls the scenario's identities with sdk-golang once and lists
// services as each of them: isolation is checked on the wire, by the
// controller's answer to the identity itself.
type wire struct {
	t    *testing.T
	dir  string
	cfgs map[string]*ziti.Config
}

func (w *wire) enroll(s *terraform.State) error {
	for _, name := range []string{"equity", "news", "pulse"} {
		if _, ok := w.cfgs[name]; ok {
			continue
		}
		jwt := s.RootModule().Resources["agentmesh_identity."+name].Primary.Attributes["enrollment_jwt"]
		_, cfg, err := acctest.Enroll(jwt, w.dir, name)
		if err != nil {
			return err
		}
		w.cfgs[name] = cfg
	}
	return nil
}

// sees checks the services each identity can list.
func (w *wire) sees(want map[string]string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		if err := w.enroll(s); err != nil {
			return err
		}
		for who, services := range want {
			got, err := acctest.ServicesAs(w.cfgs[who])
			if err != nil {
				return err
			}
			var names []string
			for n := range got {
				if strings.HasPrefix(n, "ml-") {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			if fmt.Sprint(names) != services {
				return fmt.Errorf("%s lists %v on the wire, want %s", who, names, services)
			}
		}
		return nil
	}
}

func TestAccGovernance_macroLite(t *testing.T) {
	w := &wire{t: t, dir: t.TempDir(), cfgs: map[string]*ziti.Config{}}
	contractTravels := func(s *terraform.State) error {
		got, err := acctest.ServicesAs(w.cfgs["pulse"])
		if err != nil {
			return err
		}
		terms := got["ml-equity-feed"]["agentmesh.contract.v1"]
		if fmt.Sprint(terms["max_duration_seconds"]) != "60" || fmt.Sprint(terms["name"]) != "ml-provider-default" {
			return fmt.Errorf("pulse did not receive the contract terms with the service: %v", got["ml-equity-feed"])
		}
		if caps := fmt.Sprint(got["ml-equity-feed"]["agentmesh.endpoint.v1"]["capabilities"]); !strings.Contains(caps, "quotes") {
			return fmt.Errorf("capabilities missing: %s", caps)
		}
		// A tunneller of pulse's would intercept the news endpoint's address.
		if ic := fmt.Sprint(got["ml-news-pulse"]["intercept.v1"]); !strings.Contains(ic, "news-pulse.macro.ziti") || !strings.Contains(ic, "443") {
			return fmt.Errorf("intercept config not delivered: %s", ic)
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			{
				Config: macroLite(true, ""),
				Check: resource.ComposeAggregateTestCheckFunc(
					expectDialers(t, map[string]string{
						"agentmesh_endpoint.equity": "[ml-equity-feed ml-pulse-agent]",
						"agentmesh_endpoint.news":   "[ml-news-pulse ml-pulse-agent]",
					}),
					// markets-co and signals-co cannot see each other; pulse sees both.
					w.sees(map[string]string{
						"equity": "[ml-equity-feed]",
						"news":   "[ml-news-pulse]",
						"pulse":  "[ml-equity-feed ml-news-pulse]",
					}),
					contractTravels,
				),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("agentmesh_workgroup.markets", tfjsonpath.New("role"), knownvalue.StringExact("#wg.ml-markets-channel")),
					statecheck.ExpectKnownValue("agentmesh_workgroup_membership.pulse_signals", tfjsonpath.New("role"), knownvalue.StringExact("member")),
					statecheck.ExpectKnownValue("agentmesh_contract.default", tfjsonpath.New("access_mode"), knownvalue.StringExact("open")),
					statecheck.ExpectKnownValue("agentmesh_endpoint.equity", tfjsonpath.New("capabilities").AtSliceIndex(0).AtMapKey("name"), knownvalue.StringExact("quotes")),
					statecheck.ExpectKnownValue("agentmesh_endpoint.news", tfjsonpath.New("intercept").AtMapKey("protocols"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("tcp")})),
					statecheck.ExpectKnownValue("agentmesh_endpoint.equity", tfjsonpath.New("intercept"), knownvalue.Null()),
				},
			},
			// Imports go by the names users know; memberships by
			// <workgroup>/<identity name>. The Ziti id works too.
			{ResourceName: "agentmesh_workgroup.markets", ImportState: true, ImportStateId: "ml-markets-channel", ImportStateVerify: true},
			{ResourceName: "agentmesh_workgroup_membership.pulse_signals", ImportState: true, ImportStateId: "ml-signals-channel/ml-pulse-agent", ImportStateVerify: true},
			{ResourceName: "agentmesh_contract.default", ImportState: true, ImportStateId: "ml-provider-default", ImportStateVerify: true},
			{ResourceName: "agentmesh_endpoint.equity", ImportState: true, ImportStateId: "ml-equity-feed", ImportStateVerify: true},
			{ResourceName: "agentmesh_endpoint.news", ImportState: true, ImportStateVerify: true},
			{ResourceName: "agentmesh_workgroup.markets", ImportState: true, ImportStateId: "ml-no-such-channel",
				ExpectError: acctest.ErrorText(`no workgroup has the id or name "ml-no-such-channel"; workgroup names are listed`)},
			{ResourceName: "agentmesh_workgroup_membership.pulse_signals", ImportState: true, ImportStateId: "ml-signals-channel",
				ExpectError: acctest.ErrorText(`a membership imports as <workgroup>/<identity name>`)},
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
					c, err := e.FindContract(ctx, "ml-provider-default")
					if err != nil {
						t.Fatal(err)
					}
					c.Value.MaxDurationSeconds = 86400
					if _, err := e.UpdateContract(ctx, c.ID, &c.Value); err != nil {
						t.Fatal(err)
					}
				},
				Config: macroLite(true, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("agentmesh_workgroup.signals", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("agentmesh_workgroup_membership.pulse_markets", plancheck.ResourceActionCreate),
						plancheck.ExpectResourceAction("agentmesh_contract.default", plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue("agentmesh_contract.default", tfjsonpath.New("max_duration_seconds"), knownvalue.Int64Exact(60)),
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
				Check: resource.ComposeAggregateTestCheckFunc(
					expectDialers(t, map[string]string{
						"agentmesh_endpoint.equity": "[ml-equity-feed]",
						"agentmesh_endpoint.news":   "[ml-news-pulse ml-pulse-agent]",
					}),
					w.sees(map[string]string{"pulse": "[ml-news-pulse]"}),
				),
			},
			{
				// The contract now requires ml-vetted: every endpoint under it narrows at once.
				Config: macroLite(true, `agentmesh_workgroup.vetted.name`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("agentmesh_contract.default", plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					expectDialers(t, map[string]string{
						"agentmesh_endpoint.equity": "[ml-equity-feed]",
						"agentmesh_endpoint.news":   "[]",
					}),
					w.sees(map[string]string{"pulse": "[]", "news": "[ml-news-pulse]"}),
				),
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
