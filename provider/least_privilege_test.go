package provider_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/acctest"
)

// leastPrivilege is what agentmesh touches on the controller: the entity
// permissions of the objects it manages. Ziti v1.6.0 does not yet grant
// management access by these permissions (only admins), so today the test
// proves that a non-admin identity is refused with a message that says what
// to do; see docs/guides/least-privilege.md.
var leastPrivilege = rest_model.Permissions{
	"identity", "config", "config-type", "service", "service-policy",
	"edge-router-policy", "service-edge-router-policy",
}

// TestAccProvider_nonAdminIsRefusedClearly applies a governed endpoint as a
// non-admin identity holding only those permissions.
func TestAccProvider_nonAdminIsRefusedClearly(t *testing.T) {
	file := enrolledOperator(t, "acc-least-privilege", &rest_model.IdentityCreate{IsAdmin: ptr(false), Permissions: &leastPrivilege})
	for _, k := range []string{"AGENTMESH_USERNAME", "AGENTMESH_PASSWORD"} {
		t.Setenv(k, "")
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "agentmesh" { identity_file = %q }
resource "agentmesh_identity" "host" {
  name         = "lp-host"
  organization = "lp-co"
}
resource "agentmesh_workgroup" "w" {
  name               = "lp-group"
  owner_organization = "lp-co"
}
resource "agentmesh_workgroup_membership" "host" {
  workgroup = agentmesh_workgroup.w.name
  identity  = agentmesh_identity.host.id
  role      = "admin"
}
resource "agentmesh_contract" "c" {
  name                  = "lp-contract"
  owner_organization    = "lp-co"
  allowed_message_types = ["*"]
}
resource "agentmesh_endpoint" "ep" {
  name       = "lp-endpoint"
  host       = agentmesh_identity.host.id
  workgroups = [agentmesh_workgroup.w.name]
  contract   = agentmesh_contract.c.name
  depends_on = [agentmesh_workgroup_membership.host]
}
data "agentmesh_access" "ep" {
  endpoint = agentmesh_endpoint.ep.id
}`, file),
			ExpectError: acctest.ErrorText(`HTTP 401 UNAUTHORIZED.*Check the provider's credentials \(username/password or identity\) and that the identity is an admin`),
		}},
	})
}
