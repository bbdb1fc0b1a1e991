package acctest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/acctest/faultproxy"
)

// TestUnendingStormIsBounded: a controller that only ever answers 503 makes
// the apply fail after max_retries with a message that says what to do; it
// is never retried forever, and nothing is created.
func TestUnendingStormIsBounded(t *testing.T) {
	p, err := faultproxy.Start(acctest.Shared.Origin, acctest.Shared.CAPEM, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Set(faultproxy.Faults{P503: 1})
	start := time.Now()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "agentmesh" {
  endpoint    = %q
  ca_pem      = %q
  max_retries = 3
}
resource "agentmesh_identity" "a" { name = "storm-bounded" }`, p.URL, string(p.CAPEM)),
			ExpectError: acctest.ErrorText(`HTTP 503.*did not answer after bounded retries`),
		}},
	})
	t.Logf("the bounded retries and the test's runs took %s", time.Since(start).Round(time.Second))
	// The provider authenticates, then tries once and retries 3 times.
	if got := p.Injected503.Load(); got < 4 || got > 12 {
		t.Fatalf("injected %d 503s; want the retries bounded by max_retries", got)
	}
}
