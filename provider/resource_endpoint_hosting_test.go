package provider_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentmesh/agentmesh/acctest"
)

// TestAccEndpoint_unenforcedTermsWarn applies, with the real CLI, an
// endpoint under a contract with every session term set: hosted directly,
// the apply and every later plan warn about each term nothing enforces;
// hosted behind the guard, they do not.
func TestAccEndpoint_unenforcedTermsWarn(t *testing.T) {
	config := func(hosting string) string {
		return acctest.Config(`
resource "agentmesh_identity" "host" {
  name                = "hw-host"
  organization        = "hw-co"
  keep_enrollment_jwt = false
}
resource "agentmesh_workgroup" "desk" {
  name               = "hw-desk"
  owner_organization = "hw-co"
}
resource "agentmesh_contract" "strict" {
  name                  = "hw-strict"
  owner_organization    = "hw-co"
  max_duration_seconds  = 30
  max_message_count     = 10
  max_message_bytes     = 1024
  allowed_message_types = ["ping"]
}
resource "agentmesh_endpoint" "feed" {
  name       = "hw-feed"
  host       = agentmesh_identity.host.id
  workgroups = [agentmesh_workgroup.desk.name]
  contract   = agentmesh_contract.strict.name
  hosting    = "` + hosting + `"
}
data "agentmesh_endpoint" "feed" {
  name = agentmesh_endpoint.feed.name
}
output "hosting" {
  value = data.agentmesh_endpoint.feed.hosting
}
`)
	}
	src := t.TempDir()
	write := func(hosting string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(src, "main.tf"), []byte(config(hosting)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("direct")
	w, err := acctest.Shared.NewWorkspace(src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = w.Run("destroy", "-auto-approve", "-no-color", "-input=false") })
	terms := []string{"max_duration_seconds", "max_message_count", "max_message_bytes", "allowed_message_types"}
	warned := func(out string) []string {
		var got []string
		for _, term := range terms {
			if strings.Contains(out, "Contract term "+term+" is not enforced on endpoint hw-feed") {
				got = append(got, term)
			}
		}
		return got
	}
	out, err := w.Run("apply", "-auto-approve", "-no-color", "-input=false")
	if err != nil {
		t.Fatal(err)
	}
	if got := warned(out); len(got) != len(terms) {
		t.Fatalf("the apply of a direct endpoint warned about %v, want %v:\n%s", got, terms, out)
	}
	if !strings.Contains(out, `hosting = "direct"`) {
		t.Fatalf("the endpoint data source does not read hosting:\n%s", out)
	}
	if out, err = w.Run("plan", "-no-color", "-input=false"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Contract hw-strict has terms nothing enforces") ||
		!strings.Contains(out, "hw-feed: max_duration_seconds, max_message_count, max_message_bytes, allowed_message_types") {
		t.Fatalf("a plan of the contract did not say which terms its direct endpoint leaves unenforced:\n%s", out)
	}
	if err := os.WriteFile(filepath.Join(w.Dir, "main.tf"), []byte(config("guarded")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err = w.Run("apply", "-auto-approve", "-no-color", "-input=false"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "1 changed") {
		t.Fatalf("switching to guarded did not update the endpoint in place:\n%s", out)
	}
	// The plan of that apply still saw the endpoint direct; the next one
	// has nothing to warn about.
	if out, err = w.Run("plan", "-no-color", "-input=false"); err != nil {
		t.Fatal(err)
	}
	if got := warned(out); len(got) != 0 || strings.Contains(out, "nothing enforces") {
		t.Fatalf("a guarded endpoint was warned about %v:\n%s", got, out)
	}
}
