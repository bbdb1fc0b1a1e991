package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/openziti/edge-api/rest_management_api_client/service"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/reconciler/controller"
	"github.com/agentmesh/agentmesh/reconciler/derive"
)

// EnsureDataPlane writes, for a gateway that is not registered, a data
// plane for the given audience (identity id -> name) and removes the rest
// of that gateway's data-plane services; it returns service name ->
// identity name. It exists for tests of the agent on its own: a registered
// gateway's data plane is derived from its routes (see Derive), and the
// next convergence removes what this wrote.
func (e *Engine) EnsureDataPlane(ctx context.Context, gateway, gatewayIdentity string, audience map[string]string) (map[string]string, error) {
	owner := "gateway/" + gateway
	out := map[string]string{}
	for id, name := range audience {
		svc := DataPlaneService(gateway, name)
		out[svc] = name
		have, err := e.findService(ctx, svc)
		if err != nil && !controller.IsNotFound(err) {
			return nil, err
		}
		if err := e.ensureDarkService(ctx, svc, have, owner, gatewayIdentity, id, nil); err != nil {
			return nil, err
		}
	}
	svcs, err := e.listManagedServices(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range svcs {
		name := deref(s.Name)
		if _, ok := out[name]; !ok && strings.HasPrefix(name, DataPlaneService(gateway, "")) {
			if err := e.dropDarkService(ctx, name, deref(s.ID)); err != nil {
				return nil, err
			}
		}
	}
	return out, e.ensureRouterPolicies(ctx)
}

func (e *Engine) findPolicy(ctx context.Context, name string) (*rest_model.ServicePolicyDetail, error) {
	filter := fmt.Sprintf("name = %s", quoteFilter(name))
	items, err := listAll(ctx, func(limit, offset *int64) ([]*rest_model.ServicePolicyDetail, *rest_model.Meta, error) {
		r, err := e.c.API.ServicePolicy.ListServicePolicies(service_policy.NewListServicePoliciesParamsWithContext(ctx).WithFilter(&filter).WithLimit(limit).WithOffset(offset), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "looking up service policy "+name)
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range items {
		if deref(p.Name) == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("service policy %q: %w", name, controller.ErrNotFound)
}

func (e *Engine) ensurePolicy(ctx context.Context, want PolicySpec) error {
	p, err := e.findPolicy(ctx, want.Name)
	if controller.IsNotFound(err) {
		return e.createPolicy(ctx, want)
	}
	if err != nil {
		return err
	}
	have := PolicySpec{IdentityRoles: sortedCopy(p.IdentityRoles), ServiceRoles: sortedCopy(p.ServiceRoles)}
	if p.Type != nil {
		have.Type = string(*p.Type)
	}
	if p.Semantic != nil {
		have.Semantic = string(*p.Semantic)
	}
	if have.Same(want) {
		return nil
	}
	return e.updatePolicy(ctx, deref(p.ID), want)
}

func (e *Engine) deletePolicyByName(ctx context.Context, name string) error {
	p, err := e.findPolicy(ctx, name)
	if controller.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return e.deletePolicy(ctx, deref(p.ID))
}

// ensureRouterPolicies creates the network-wide router policies if missing.
func (e *Engine) ensureRouterPolicies(ctx context.Context) error {
	routers, err := e.routerPolicies(ctx)
	if err != nil {
		return err
	}
	present := map[string]bool{}
	for _, r := range routers {
		present[r.Name] = true
	}
	if !present[RouterPolicyIdentities] {
		if err := e.createIdentityRouterPolicy(ctx); err != nil {
			return err
		}
	}
	if !present[RouterPolicyEndpoints] {
		return e.createEndpointRouterPolicy(ctx)
	}
	return nil
}

// EnsureControlService makes the gateway agent's control service: the
// gateway's identity binds it and only the reconciler's identity may dial.
func (e *Engine) EnsureControlService(ctx context.Context, gateway, gatewayIdentity, reconcilerIdentity string) (string, error) {
	owner := "gateway/" + gateway
	name := ControlService(gateway)
	have, err := e.findService(ctx, name)
	if err != nil && !controller.IsNotFound(err) {
		return "", err
	}
	if err := e.ensureDarkService(ctx, name, have, owner, gatewayIdentity, reconcilerIdentity, nil); err != nil {
		return "", err
	}
	return name, e.ensureRouterPolicies(ctx)
}

// ensureDarkService makes a gateway-owned service (created when have is
// nil) that binder alone may bind and dialer alone may dial. A non-nil
// configs is the exact list of config ids the service carries.
func (e *Engine) ensureDarkService(ctx context.Context, name string, have *rest_model.ServiceDetail, owner, binder, dialer string, configs []string) error {
	var sid string
	if have == nil {
		id, err := e.createGatewayService(ctx, name, owner, configs)
		if err != nil {
			return err
		}
		sid = id
	} else {
		sid = deref(have.ID)
		if configs != nil && !slices.Equal(sortedCopy(have.Configs), sortedCopy(configs)) {
			if err := e.setServiceConfigs(ctx, sid, configs); err != nil {
				return err
			}
		}
	}
	for _, p := range []PolicySpec{
		{Name: derive.DarkBindPolicy(name), Type: "Bind", Semantic: "AnyOf", IdentityRoles: []string{"@" + binder}, ServiceRoles: []string{"@" + sid}, Owner: owner},
		{Name: derive.DarkDialPolicy(name), Type: "Dial", Semantic: "AnyOf", IdentityRoles: []string{"@" + dialer}, ServiceRoles: []string{"@" + sid}, Owner: owner},
	} {
		if err := e.ensurePolicy(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// createGatewayService makes a gateway-owned service carrying the given
// config ids and returns its id.
func (e *Engine) createGatewayService(ctx context.Context, name, owner string, configs []string) (string, error) {
	resp, err := e.c.API.Service.CreateService(service.NewCreateServiceParamsWithContext(ctx).WithService(&rest_model.ServiceCreate{
		Name: ptr(name), EncryptionRequired: ptr(true), RoleAttributes: []string{EndpointRole}, Configs: nonNilList(configs),
		Tags: ownTags("derived", TagOwner, owner),
	}), nil)
	if err != nil {
		return "", controller.Explain(err, "creating service "+name)
	}
	return resp.Payload.Data.ID, nil
}

// setServiceConfigs replaces the config list a service carries.
func (e *Engine) setServiceConfigs(ctx context.Context, sid string, configs []string) error {
	_, err := e.c.API.Service.PatchService(service.NewPatchServiceParamsWithContext(ctx).WithID(sid).WithService(&rest_model.ServicePatch{Configs: nonNilList(configs)}), nil)
	e.services.forget(sid)
	return controller.Explain(err, "attaching configs to service "+sid)
}

func nonNilList(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// dropDarkService removes a service made by ensureDarkService, policies
// first.
func (e *Engine) dropDarkService(ctx context.Context, name, sid string) error {
	for _, p := range []string{derive.DarkBindPolicy(name), derive.DarkDialPolicy(name)} {
		if err := e.deletePolicyByName(ctx, p); err != nil {
			return err
		}
	}
	return e.deleteService(ctx, sid)
}
