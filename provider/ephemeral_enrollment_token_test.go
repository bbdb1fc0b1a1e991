package provider_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/agentmesh/agentmesh/acctest"
)

func enrollmentConfig(out string) string {
	return acctest.Config(fmt.Sprintf(`
resource "agentmesh_identity" "a" {
  name                = "acc-ephemeral-enroll"
  keep_enrollment_jwt = false
}
ephemeral "agentmesh_enrollment_token" "a" {
  identity    = agentmesh_identity.a.id
  ttl_minutes = 15
}
# The token reaches the host through a provisioner, never the state.
resource "terraform_data" "enroll" {
  triggers_replace = [agentmesh_identity.a.id]
  provisioner "local-exec" {
    command     = "umask 077; printf %%s \"$JWT\" > %s"
    environment = { JWT = ephemeral.agentmesh_enrollment_token.a.jwt }
  }
}`, out))
}

// TestAccIdentity_enrollmentTokenOutOfState: with keep_enrollment_jwt =
// false and the agentmesh_enrollment_token ephemeral resource, the
// enrollment token reaches a provisioner, enrolls the identity, and is
// in no state file (and, by the package's scan, in no TRACE log). After
// enrolment the ephemeral resource hands out nothing, and plans stay clean.
func TestAccIdentity_enrollmentTokenOutOfState(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "token.jwt")
	var jwt string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			{
				Config: enrollmentConfig(out),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckNoResourceAttr("agentmesh_identity.a", "enrollment_jwt"),
					resource.TestCheckResourceAttr("agentmesh_identity.a", "keep_enrollment_jwt", "false"),
					func(s *terraform.State) error {
						b, err := os.ReadFile(out)
						if err != nil {
							return fmt.Errorf("the provisioner wrote no token: %w", err)
						}
						jwt = acctest.Secret("ephemeral enrollment token", string(b))
						if !strings.HasPrefix(jwt, "eyJ") {
							return fmt.Errorf("the provisioner got %d bytes that are not a JWT", len(jwt))
						}
						if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
							return fmt.Errorf("token file mode: %v %w", st, err)
						}
						for addr, r := range s.RootModule().Resources {
							for k, v := range r.Primary.Attributes {
								if strings.Contains(v, jwt) {
									return fmt.Errorf("the token is in the state at %s.%s", addr, k)
								}
							}
						}
						// It is the identity's token: it enrolls it.
						if _, _, err := acctest.Enroll(jwt, dir, "acc-ephemeral"); err != nil {
							return fmt.Errorf("enrolling with the ephemeral token: %w", err)
						}
						return nil
					},
				),
			},
			{
				// Enrolled: nothing to hand out, no error, no drift.
				Config: enrollmentConfig(out),
				Check:  resource.TestCheckResourceAttr("agentmesh_identity.a", "enrolled", "true"),
			},
		},
	})
	// No state file the run wrote holds the token either.
	_ = filepath.WalkDir(os.TempDir(), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".tfstate") {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && jwt != "" && strings.Contains(string(b), jwt) {
			t.Errorf("state file %s holds the enrollment token", p)
		}
		return nil
	})
}
