package reconciler_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_management_api_client/service"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/acctest"
)

// TestAccessNeverTruncates: the controller answers 10 items unless asked
// for more, so the access evaluation must page in both directions. One
// identity may dial 520 services and one service may be dialled by 520
// identities (more than one page of 500 each); both answers are complete.
func TestAccessNeverTruncates(t *testing.T) {
	const n = 520
	ctx := context.Background()
	e := engine(t)
	api, err := acctest.Shared.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()

	var (
		mu       sync.Mutex
		services []string
		ids      []string
	)
	parallel(t, n, func(i int) error {
		r, err := api.API.Service.CreateService(service.NewCreateServiceParamsWithContext(ctx).WithService(&rest_model.ServiceCreate{
			Name: ptr(fmt.Sprintf("page-svc-%03d", i)), EncryptionRequired: ptr(true), RoleAttributes: []string{"page-svc"}, Configs: []string{},
		}), nil)
		if err != nil {
			return err
		}
		mu.Lock()
		services = append(services, r.Payload.Data.ID)
		mu.Unlock()
		return nil
	})
	parallel(t, n, func(i int) error {
		r, err := api.API.Identity.CreateIdentity(identity.NewCreateIdentityParamsWithContext(ctx).WithIdentity(&rest_model.IdentityCreate{
			Name: ptr(fmt.Sprintf("page-id-%03d", i)), Type: rest_model.IdentityTypeDefault.Pointer(), IsAdmin: ptr(false),
			RoleAttributes: &rest_model.Attributes{"page-dialer"},
		}), nil)
		if err != nil {
			return err
		}
		mu.Lock()
		ids = append(ids, r.Payload.Data.ID)
		mu.Unlock()
		return nil
	})
	pol, err := api.API.ServicePolicy.CreateServicePolicy(service_policy.NewCreateServicePolicyParamsWithContext(ctx).WithPolicy(&rest_model.ServicePolicyCreate{
		Name: ptr("page-dial"), Type: rest_model.DialBindDial.Pointer(), Semantic: rest_model.SemanticAnyOf.Pointer(),
		IdentityRoles: rest_model.Roles{"#page-dialer"}, ServiceRoles: rest_model.Roles{"#page-svc"}, PostureCheckRoles: rest_model.Roles{},
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = api.API.ServicePolicy.DeleteServicePolicy(service_policy.NewDeleteServicePolicyParams().WithID(pol.Payload.Data.ID), nil)
		parallel(t, len(services), func(i int) error {
			_, err := api.API.Service.DeleteService(service.NewDeleteServiceParams().WithID(services[i]), nil)
			return err
		})
		parallel(t, len(ids), func(i int) error {
			_, err := api.API.Identity.DeleteIdentity(identity.NewDeleteIdentityParams().WithID(ids[i]), nil)
			return err
		})
	})

	dialable, err := e.Dialable(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(dialable) != n {
		t.Fatalf("an identity that may dial %d services is told %d", n, len(dialable))
	}
	seen := map[string]bool{}
	for _, s := range dialable {
		seen[s] = true
	}
	if len(seen) != n || !seen["page-svc-000"] || !seen[fmt.Sprintf("page-svc-%03d", n-1)] {
		t.Fatalf("pages overlap or miss services: %d distinct", len(seen))
	}
	dialers, err := e.Dialers(ctx, services[0])
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, d := range dialers {
		if len(d) > 8 && d[:8] == "page-id-" {
			count++
		}
	}
	if count != n {
		t.Fatalf("a service %d identities may dial is told %d of them", n, count)
	}
}

// parallel runs f for 0..n-1 with 8 workers and fails on the first error.
func parallel(t *testing.T, n int, f func(int) error) {
	t.Helper()
	jobs := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
