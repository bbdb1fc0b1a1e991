package provider_test

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/agentmesh/agentmesh/acctest"
)

func TestAccIdentityDataSource(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			{
				Config: `
resource "agentmesh_identity" "a" {
  name            = "acc-ds"
  organization    = "signals-co"
  kind            = "gateway"
  role_attributes = ["llm"]
}
data "agentmesh_identity" "by_name" { name = agentmesh_identity.a.name }
data "agentmesh_identity" "by_id"   { id = agentmesh_identity.a.id }`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.CompareValuePairs(addr, tfjsonpath.New("id"), "data.agentmesh_identity.by_name", tfjsonpath.New("id"), compare.ValuesSame()),
					statecheck.CompareValuePairs(addr, tfjsonpath.New("name"), "data.agentmesh_identity.by_id", tfjsonpath.New("name"), compare.ValuesSame()),
					statecheck.ExpectKnownValue("data.agentmesh_identity.by_id", tfjsonpath.New("kind"), knownvalue.StringExact("gateway")),
					statecheck.ExpectKnownValue("data.agentmesh_identity.by_id", tfjsonpath.New("organization"), knownvalue.StringExact("signals-co")),
					statecheck.ExpectKnownValue("data.agentmesh_identity.by_name", tfjsonpath.New("role_attributes"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("llm")})),
					statecheck.ExpectKnownValue("data.agentmesh_identity.by_name", tfjsonpath.New("managed"), knownvalue.Bool(true)),
				},
			},
		},
	})
}

func TestAccIdentityDataSource_errors(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      `data "agentmesh_identity" "x" { name = "acc-no-such-identity" }`,
				ExpectError: errorText(`Identity not found.*No identity with name acc-no-such-identity`),
			},
			{
				Config:      `data "agentmesh_identity" "x" {}`,
				ExpectError: errorText(`Missing Attribute Configuration.*Exactly one of these attributes must be configured: \[id,name\]`),
			},
		},
	})
}
