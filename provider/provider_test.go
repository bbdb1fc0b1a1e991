package provider_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/openziti/edge-api/rest_management_api_client/api_session"
	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/acctest"
)

// otherCA is a CA that did not sign the controller's certificate.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not-the-controller-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestAccProvider_wrongCAIsRefused(t *testing.T) {
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "agentmesh" {
  ca_pem = <<EOT
%sEOT
}
resource "agentmesh_identity" "a" { name = "acc-wrong-ca" }`, otherCA(t)),
			ExpectError: errorText(`TLS verification of the controller failed.*unknown authority.*Check ca_pem/ca_file`),
		}},
	})
}

func TestAccProvider_hostnameMismatchIsRefused(t *testing.T) {
	// 127.0.0.2 reaches the same controller, but its certificate does not
	// name that address.
	endpoint := strings.Replace(acctest.Shared.Origin, "127.0.0.1", "127.0.0.2", 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      fmt.Sprintf(`provider "agentmesh" { endpoint = %q }`+"\n"+`resource "agentmesh_identity" "a" { name = "acc-bad-host" }`, endpoint),
			ExpectError: errorText(`TLS verification of the controller failed.*certificate is valid for 127\.0\.0\.1.*not 127\.0\.0\.2.*host name`),
		}},
	})
}

func TestAccProvider_badPasswordIsClear(t *testing.T) {
	t.Setenv("AGENTMESH_PASSWORD", "definitely-wrong")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      `resource "agentmesh_identity" "a" { name = "acc-bad-pw" }`,
			ExpectError: errorText(`authenticating to https://127\.0\.0\.1:\d+/edge/management/v1 with password credentials: HTTP 401 INVALID_AUTH.*Check the provider's credentials`),
		}},
	})
}

func TestAccProvider_insecureWarns(t *testing.T) {
	t.Setenv("AGENTMESH_CA_PEM", "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "agentmesh" { insecure = true }
data "agentmesh_identity" "admin" { name = "Default Admin" }`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.agentmesh_identity.admin", tfjsonpath.New("id"), knownvalue.NotNull()),
			},
		}},
	})
	// And without it, no trust store knows the quickstart CA.
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      `data "agentmesh_identity" "admin" { name = "Default Admin" }`,
			ExpectError: errorText(`TLS verification of the controller failed`),
		}},
	})
}

func TestAccProvider_fetchWellKnownCA(t *testing.T) {
	t.Setenv("AGENTMESH_CA_PEM", "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "agentmesh" { fetch_well_known_ca = true }
data "agentmesh_identity" "admin" { name = "Default Admin" }`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.agentmesh_identity.admin", tfjsonpath.New("managed"), knownvalue.Bool(false)),
			},
		}},
	})
}

// TestAccProvider_identityFileAuth authenticates with an enrolled admin
// identity's certificate: no password, and the CA and the controller URL
// come from the identity file.
func TestAccProvider_identityFileAuth(t *testing.T) {
	file := enrolledOperator(t, "acc-terraform-admin", &rest_model.IdentityCreate{IsAdmin: ptr(true)})
	for _, k := range []string{"AGENTMESH_ENDPOINT", "AGENTMESH_USERNAME", "AGENTMESH_PASSWORD", "AGENTMESH_CA_PEM"} {
		t.Setenv(k, "")
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "agentmesh" { identity_file = %q }
resource "agentmesh_identity" "a" {
  name         = "acc-by-cert"
  organization = "pulse-co"
}`, file),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(addr, tfjsonpath.New("organization"), knownvalue.StringExact("pulse-co")),
			},
		}},
	})
}

// TestAccIdentity_enrollmentJWTEnrolls enrolls the JWT Terraform returned
// with sdk-golang and watches `enrolled` flip on the next refresh.
func TestAccIdentity_enrollmentJWTEnrolls(t *testing.T) {
	const cfg = `resource "agentmesh_identity" "a" {
  name = "acc-enroll"
  kind = "agent"
}`
	dir := t.TempDir()
	var file string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: func(s *terraform.State) error {
					var err error
					file, _, err = acctest.Enroll(s.RootModule().Resources[addr].Primary.Attributes["enrollment_jwt"], dir, "agent")
					return err
				},
			},
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("enrolled"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("enrollment_jwt"), knownvalue.Null()),
				},
				Check: func(*terraform.State) error {
					st, err := os.Stat(file)
					if err != nil {
						return err
					}
					if st.Mode().Perm() != 0o600 {
						return fmt.Errorf("identity file mode %v, want 0600", st.Mode().Perm())
					}
					return nil
				},
			},
		},
	})
}

// TestAccProvider_traceLogHasNoSecrets runs create, import, update and
// destroy with TF_LOG=TRACE and then looks for every secret involved.
func TestAccProvider_traceLogHasNoSecrets(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "trace.log")
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_LOG_PATH_MASK", "") // this test reads its own single log
	t.Setenv("TF_ACC_LOG_PATH", logFile)
	var jwt string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			{
				Config: `resource "agentmesh_identity" "a" { name = "acc-trace" }
data "agentmesh_identity" "a" { id = agentmesh_identity.a.id }`,
				Check: func(s *terraform.State) error {
					jwt = s.RootModule().Resources[addr].Primary.Attributes["enrollment_jwt"]
					return nil
				},
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true},
			{Config: `resource "agentmesh_identity" "a" {
  name     = "acc-trace"
  disabled = true
}`},
		},
	})
	c, _ := admin(t)
	sessions, err := c.API.APISession.ListAPISessions(api_session.NewListAPISessionsParams().WithLimit(ptr(int64(500))), nil)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"admin password": acctest.Shared.Password, "enrollment JWT": jwt}
	for i, s := range sessions.Payload.Data {
		if s.Token != nil && *s.Token != "" {
			secrets[fmt.Sprintf("API session token %d", i)] = *s.Token
		}
	}
	if len(secrets) < 3 || jwt == "" {
		t.Fatalf("the scan would prove nothing: %d secrets collected", len(secrets))
	}
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "management API request") {
		t.Fatalf("the trace log holds no provider request lines; the scan would prove nothing (%d bytes)", len(log))
	}
	for what, s := range secrets {
		if strings.Contains(string(log), s) {
			t.Errorf("the TRACE log contains the %s", what)
		}
	}
	t.Logf("scanned %d bytes of TRACE log for %d secrets", len(log), len(secrets))
}

var errorText = acctest.ErrorText

// enrolledOperator creates an identity the provider can authenticate as
// (admin flag and permissions from tmpl), enrolls it with sdk-golang and
// returns its identity file; the identity is deleted when the test ends.
func enrolledOperator(t *testing.T, name string, tmpl *rest_model.IdentityCreate) string {
	t.Helper()
	c, e := admin(t)
	ctx := context.Background()
	body := *tmpl
	body.Name, body.Type = ptr(name), rest_model.IdentityTypeService.Pointer()
	body.Enrollment = &rest_model.IdentityCreateEnrollment{Ott: true}
	resp, err := c.API.Identity.CreateIdentity(identity.NewCreateIdentityParams().WithIdentity(&body), nil)
	if err != nil {
		t.Fatal(err)
	}
	id := resp.Payload.Data.ID
	t.Cleanup(func() { _ = e.DeleteIdentity(ctx, id) })
	o, err := e.ObserveIdentity(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	file, _, err := acctest.Enroll(o.EnrollmentJWT, t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	return file
}
