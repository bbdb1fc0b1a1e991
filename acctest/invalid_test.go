package acctest_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/openziti/edge-api/rest_management_api_client/config"
	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_management_api_client/service"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// objectCounts is how many objects of each kind the controller holds.
func objectCounts(t *testing.T, c *controller.Client) string {
	t.Helper()
	one := ptr(int64(1))
	total := func(m *rest_model.Meta, err error) int64 {
		if err != nil {
			t.Fatal(err)
		}
		return *m.Pagination.TotalCount
	}
	ids, err := c.API.Identity.ListIdentities(identity.NewListIdentitiesParams().WithLimit(one), nil)
	i := total(ids.GetPayload().Meta, err)
	cfgs, err := c.API.Config.ListConfigs(config.NewListConfigsParams().WithLimit(one), nil)
	cf := total(cfgs.GetPayload().Meta, err)
	svcs, err := c.API.Service.ListServices(service.NewListServicesParams().WithLimit(one), nil)
	sv := total(svcs.GetPayload().Meta, err)
	pols, err := c.API.ServicePolicy.ListServicePolicies(service_policy.NewListServicePoliciesParams().WithLimit(one), nil)
	sp := total(pols.GetPayload().Meta, err)
	return fmt.Sprintf("identities=%d configs=%d services=%d service-policies=%d", i, cf, sv, sp)
}

type invalidCase struct {
	name, expect, phase, config string
}

func loadInvalid(t *testing.T) []invalidCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	var out []invalidCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c := invalidCase{name: strings.TrimSuffix(filepath.Base(f), ".tf"), config: string(b)}
		sc := bufio.NewScanner(strings.NewReader(c.config))
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "# expect: "); ok {
				c.expect = v
			}
			if v, ok := strings.CutPrefix(line, "# phase: "); ok {
				c.phase = v
			}
		}
		if c.expect == "" || (c.phase != "plan" && c.phase != "apply") {
			t.Fatalf("%s: needs '# expect: <regexp>' and '# phase: plan|apply' headers", f)
		}
		out = append(out, c)
	}
	return out
}

// TestInvalidCorpus runs every configuration in testdata/invalid: each must
// fail (at plan time where the value is known, else at apply) with the
// error text it declares, and leave the controller exactly as it was.
func TestInvalidCorpus(t *testing.T) {
	cases := loadInvalid(t)
	if len(cases) < 50 {
		t.Fatalf("the corpus has %d configurations; keep at least 50", len(cases))
	}
	c, err := acctest.Shared.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	phases := map[string]int{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := objectCounts(t, c)
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      tc.config,
					PlanOnly:    tc.phase == "plan",
					ExpectError: acctest.ErrorText(tc.expect),
				}},
			})
			if after := objectCounts(t, c); after != before {
				t.Fatalf("the controller changed: before %s, after %s", before, after)
			}
			phases[tc.phase]++
		})
	}
	t.Logf("%d invalid configurations refused: %d at plan time, %d at apply time", len(cases), phases["plan"], phases["apply"])
}

func ptr[T any](v T) *T { return &v }
