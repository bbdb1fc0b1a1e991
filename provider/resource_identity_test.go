package provider_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/reconciler"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

func TestMain(m *testing.M) { acctest.Main(m) }

// admin returns an admin client and an engine for out-of-band edits and
// checks; they go to the controller directly, not through Terraform.
func admin(t *testing.T) (*controller.Client, *reconciler.Engine) {
	t.Helper()
	e := acctest.Engine(t)
	return e.Client(), e
}

// identityGone is a CheckDestroy: no identity from state may remain.
func identityGone(t *testing.T) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		_, e := admin(t)
		for _, rs := range s.RootModule().Resources {
			if rs.Type != "agentmesh_identity" {
				continue
			}
			_, err := e.ObserveIdentity(context.Background(), rs.Primary.ID)
			if err == nil {
				return fmt.Errorf("identity %s still exists after destroy", rs.Primary.ID)
			}
			if !errors.Is(err, controller.ErrNotFound) {
				return err
			}
		}
		return nil
	}
}

const addr = "agentmesh_identity.a"

func TestAccIdentity_lifecycle(t *testing.T) {
	sameID := statecheck.CompareValue(compare.ValuesSame())
	newID := statecheck.CompareValue(compare.ValuesDiffer())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			{
				Config: `
resource "agentmesh_identity" "a" {
  name            = "acc-life-1"
  organization    = "markets-co"
  role_attributes = ["analyst", "eu"]
  tags            = { team = "pulse" }
}`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("kind"), knownvalue.StringExact("agent")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("organization"), knownvalue.StringExact("markets-co")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("role_attributes"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("analyst"), knownvalue.StringExact("eu")})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("tags"), knownvalue.MapExact(map[string]knownvalue.Check{"team": knownvalue.StringExact("pulse")})),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("auth_policy"), knownvalue.StringExact("default")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("disabled"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("enrolled"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("enrollment_jwt"), knownvalue.StringRegexp(regexp.MustCompile(`^eyJ[\w-]+\.[\w-]+\.[\w-]+$`))),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("enrollment_expires_at"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT`))),
					statecheck.ExpectSensitiveValue(addr, tfjsonpath.New("enrollment_jwt")),
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					newID.AddStateValue(addr, tfjsonpath.New("id")),
				},
				Check: func(s *terraform.State) error {
					// The controller holds the org role and our ownership tags.
					c, _ := admin(t)
					d, err := c.API.Identity.DetailIdentity(identity.NewDetailIdentityParams().WithID(s.RootModule().Resources[addr].Primary.ID), nil)
					if err != nil {
						return err
					}
					attrs := fmt.Sprint(*d.Payload.Data.RoleAttributes)
					if attrs != "[analyst eu org.markets-co]" {
						return fmt.Errorf("role attributes on the controller: %s", attrs)
					}
					if d.Payload.Data.Tags.SubTags[reconciler.TagManagedBy] != reconciler.TagManagedValue {
						return fmt.Errorf("ownership tag missing: %v", d.Payload.Data.Tags.SubTags)
					}
					return nil
				},
			},
			{
				// By name, as a user would.
				ResourceName:      addr,
				ImportState:       true,
				ImportStateId:     "acc-life-1",
				ImportStateVerify: true,
			},
			{
				// In-place update: rename, new attributes, revoke, retag.
				Config: `
resource "agentmesh_identity" "a" {
  name            = "acc-life-2"
  organization    = "markets-co"
  role_attributes = ["analyst"]
  disabled        = true
  tags            = { team = "pulse", tier = "gold" }
}`,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("name"), knownvalue.StringExact("acc-life-2")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("disabled"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("role_attributes"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("analyst")})),
				},
			},
			{
				// Organisation is immutable: the identity is replaced.
				Config: `
resource "agentmesh_identity" "a" {
  name            = "acc-life-2"
  organization    = "signals-co"
  kind            = "service"
}`,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					newID.AddStateValue(addr, tfjsonpath.New("id")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("kind"), knownvalue.StringExact("service")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("organization"), knownvalue.StringExact("signals-co")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("role_attributes"), knownvalue.SetSizeExact(0)),
				},
			},
		},
	})
}

func TestAccIdentity_driftIsRepaired(t *testing.T) {
	const cfg = `
resource "agentmesh_identity" "a" {
  name            = "acc-drift"
  organization    = "macro-co"
  role_attributes = ["pulse"]
}`
	var id string
	c, e := admin(t)
	ctx := context.Background()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: func(s *terraform.State) error {
					id = s.RootModule().Resources[addr].Primary.ID
					return nil
				},
			},
			{
				// Someone edits the identity by hand: renames it, adds a role
				// attribute that grants access, and strips the org role.
				PreConfig: func() {
					p := identity.NewPatchIdentityParams().WithID(id).WithIdentity(&rest_model.IdentityPatch{
						Name:           ptr("acc-drift-hacked"),
						RoleAttributes: &rest_model.Attributes{"pulse", "admin-tools"},
					})
					if _, err := c.API.Identity.PatchIdentity(p, nil); err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("name"), knownvalue.StringExact("acc-drift")),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					o, err := e.ObserveIdentity(ctx, id)
					if err != nil {
						return err
					}
					if o.Name != "acc-drift" || fmt.Sprint(o.RoleAttributes) != "[pulse]" || fmt.Sprint(o.Reserved) != "[org.macro-co]" {
						return fmt.Errorf("drift not repaired: %+v", o)
					}
					return nil
				},
			},
			{
				// Someone deletes it: the plan recreates it.
				PreConfig: func() {
					if err := e.DeleteIdentity(ctx, id); err != nil {
						t.Fatal(err)
					}
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(s *terraform.State) error {
					if s.RootModule().Resources[addr].Primary.ID == id {
						return errors.New("identity id did not change after re-create")
					}
					return nil
				},
			},
		},
	})
}

func TestAccIdentity_badInputRejectedAtPlan(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"reserved org prefix", `name = "acc-bad-1"
  role_attributes = ["org.signals-co"]`, `(?s)role_attributes.*reserved prefix "org\."`},
		{"reserved wg prefix", `name = "acc-bad-2"
  role_attributes = ["wg.macro-pulse"]`, `(?s)role_attributes.*reserved prefix "wg\."`},
		{"empty name", `name = ""`, `(?s)Invalid name.*must not be empty`},
		{"unknown kind", `name = "acc-bad-3"
  kind = "robot"`, `(?s)kind.*value must be one of`},
		{"bad organization", `name = "acc-bad-4"
  organization = "Markets Co"`, `(?s)organization.*lower-case`},
		{"reserved tag", `name = "acc-bad-5"
  tags = { agentmesh_managed_by = "me" }`, `(?s)tags.*reserved prefix "agentmesh_"`},
		{"control character", `name = "acc-bad-\u0007"`, `(?s)name.*control or format characters`},
		{"selector injection", `name = "acc-bad-6"
  role_attributes = ["#all"]`, `(?s)role_attributes.*found '#'`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      fmt.Sprintf("resource \"agentmesh_identity\" \"a\" {\n  %s\n}", tc.body),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
	// Nothing reached the controller.
	c, _ := admin(t)
	filter := `name contains "acc-bad"`
	l, err := c.API.Identity.ListIdentities(identity.NewListIdentitiesParams().WithFilter(&filter), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(l.Payload.Data); n != 0 {
		t.Fatalf("bad input created %d identities", n)
	}
}

func TestAccIdentity_nameClashIsNotAdopted(t *testing.T) {
	c, e := admin(t)
	ctx := context.Background()
	// An identity someone else created, without agentmesh's tags.
	resp, err := c.API.Identity.CreateIdentity(identity.NewCreateIdentityParams().WithIdentity(&rest_model.IdentityCreate{
		Name: ptr("acc-foreign"), Type: rest_model.IdentityTypeDefault.Pointer(), IsAdmin: ptr(false),
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	foreign := resp.Payload.Data.ID
	t.Cleanup(func() { _ = e.DeleteIdentity(ctx, foreign) })
	cfg := acctest.Config(`resource "agentmesh_identity" "a" { name = "acc-foreign" }`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			{
				Config:      cfg,
				ExpectError: regexp.MustCompile(`(?s)name already taken.*terraform import agentmesh_identity\.<name> ` + regexp.QuoteMeta(foreign)),
			},
			{
				// Importing it is the way in; afterwards it is managed.
				Config:             cfg,
				ResourceName:       addr,
				ImportState:        true,
				ImportStateId:      foreign,
				ImportStatePersist: true,
			},
			{
				// The plan shows agentmesh taking ownership, and apply tags it.
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(addr, tfjsonpath.New("managed"), knownvalue.Bool(true)),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(*terraform.State) error {
					o, err := e.ObserveIdentity(ctx, foreign)
					if err != nil {
						return err
					}
					if !o.Managed {
						return errors.New("imported identity did not get agentmesh's ownership tags on apply")
					}
					return nil
				},
			},
		},
	})
}

func ptr[T any](v T) *T { return &v }

// TestAccIdentity_applyErrorLeavesNothing: a value only the controller can
// judge (an auth policy that does not exist) fails the apply with the
// controller's reason, and no identity is left behind.
func TestAccIdentity_applyErrorLeavesNothing(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `resource "agentmesh_identity" "a" {
  name        = "acc-bad-policy"
  auth_policy = "no-such-policy"
}`,
			ExpectError: errorText(`Cannot create identity acc-bad-policy.*HTTP 404.*check auth_policy "no-such-policy"`),
		}},
	})
	_, e := admin(t)
	if _, err := e.FindIdentityByName(context.Background(), "acc-bad-policy"); !errors.Is(err, controller.ErrNotFound) {
		t.Fatalf("want no identity left behind, got %v", err)
	}
}
