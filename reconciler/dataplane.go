package reconciler

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/openziti/edge-api/rest_management_api_client/config"
	"github.com/openziti/edge-api/rest_management_api_client/service"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// DataPlaneService names the dark service through which one identity
// reaches one gateway. The edge router passes the dialer's CallerId
// through unverified, so the gateway learns who is calling from *which
// service* was dialed instead: each service is granted to exactly one
// identity by its own Dial policy.
func DataPlaneService(gateway, identityName string) string {
	return "agentmesh.llm." + gateway + "." + identityName
}

// EnsureDataPlane makes, for every audience identity (id -> name), a
// per-identity data-plane service of the gateway with a Bind policy for
// the gateway's identity and a Dial policy for that identity alone, and
// removes those of identities no longer in the audience. It returns
// service name -> identity name, which the gateway agent serves.
func (e *Engine) EnsureDataPlane(ctx context.Context, gateway, gatewayIdentity string, audience map[string]string) (map[string]string, error) {
	return e.ensureDataPlane(ctx, gateway, gatewayIdentity, audience, nil)
}

// dataPlaneIntercept names the one intercept config all of a gateway's
// data-plane services carry: every identity dials the same address, and
// sees only its own service, so its tunneller has one claim on it.
func dataPlaneIntercept(gateway string) string { return "agentmesh.intercept.gw." + gateway }

func (e *Engine) ensureDataPlane(ctx context.Context, gateway, gatewayIdentity string, audience map[string]string, intercept *Intercept) (map[string]string, error) {
	owner := "gateway/" + gateway
	want := map[string]string{} // service name -> identity id
	out := map[string]string{}
	for id, name := range audience {
		svc := DataPlaneService(gateway, name)
		want[svc] = id
		out[svc] = name
	}
	configs := []string{}
	if intercept != nil && len(want) > 0 {
		id, err := e.ensureGatewayConfig(ctx, dataPlaneIntercept(gateway), owner, map[string]any{
			"protocols": sortedCopy(intercept.Protocols), "addresses": sortedCopy(intercept.Addresses),
			"portRanges": []any{map[string]any{"low": intercept.Port, "high": intercept.Port}},
		})
		if err != nil {
			return nil, err
		}
		configs = []string{id}
	}
	svcs, err := e.listManagedServices(ctx)
	if err != nil {
		return nil, err
	}
	have := map[string]*rest_model.ServiceDetail{}
	prefix := DataPlaneService(gateway, "")
	for _, s := range svcs {
		if s.Tags != nil && s.Tags.SubTags[TagOwner] == owner && strings.HasPrefix(deref(s.Name), prefix) {
			have[deref(s.Name)] = s
		}
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, svc := range names {
		if err := e.ensureDarkService(ctx, svc, have[svc], owner, gatewayIdentity, want[svc], configs); err != nil {
			return nil, err
		}
	}
	for name, s := range have {
		if _, ok := want[name]; !ok {
			if err := e.dropDarkService(ctx, name, deref(s.ID)); err != nil {
				return nil, err
			}
		}
	}
	if len(configs) == 0 {
		if err := e.dropGatewayConfig(ctx, dataPlaneIntercept(gateway)); err != nil {
			return nil, err
		}
	}
	if err := e.ensureRouterPolicies(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// ensureGatewayConfig makes or corrects a gateway-owned intercept config
// and returns its id. It is tagged as the gateway's, not as derived, so
// the endpoint derivation leaves it alone.
func (e *Engine) ensureGatewayConfig(ctx context.Context, name, owner string, data map[string]any) (string, error) {
	have, err := e.findConfigByName(ctx, name)
	if err != nil {
		return "", err
	}
	if have != nil {
		if sameJSON(have.Data, data) {
			return deref(have.ID), nil
		}
		_, err := e.c.API.Config.PatchConfig(config.NewPatchConfigParamsWithContext(ctx).WithID(deref(have.ID)).WithConfig(&rest_model.ConfigPatch{Data: data}), nil)
		return deref(have.ID), controller.Explain(err, "updating config "+name)
	}
	typeID, err := e.configTypeID(ctx, kindIntercept)
	if err != nil {
		return "", err
	}
	resp, err := e.c.API.Config.CreateConfig(config.NewCreateConfigParamsWithContext(ctx).WithConfig(&rest_model.ConfigCreate{
		Name: ptr(name), ConfigTypeID: ptr(typeID), Data: data, Tags: ownTags("gateway", TagOwner, owner),
	}), nil)
	if err != nil {
		// Another writer (a second state on the same gateway) may have
		// made it first: take theirs, corrected on the next push.
		if again, ferr := e.findConfigByName(ctx, name); ferr == nil && again != nil {
			return deref(again.ID), nil
		}
		return "", controller.Explain(err, "creating config "+name)
	}
	return resp.Payload.Data.ID, nil
}

// findConfigByName reads one config straight from the controller (nil
// when there is none): gateway configs change outside the snapshot.
func (e *Engine) findConfigByName(ctx context.Context, name string) (*rest_model.ConfigDetail, error) {
	filter := fmt.Sprintf("name = %s", quoteFilter(name))
	var l *config.ListConfigsOK
	err := retryList(ctx, func() (err error) {
		l, err = e.c.API.Config.ListConfigs(config.NewListConfigsParamsWithContext(ctx).WithFilter(&filter), nil)
		return controller.Explain(err, "looking up config "+name)
	})
	if err != nil {
		return nil, err
	}
	for _, c := range l.Payload.Data {
		if deref(c.Name) == name {
			return c, nil
		}
	}
	return nil, nil
}

// dropGatewayConfig removes a gateway-owned config if it exists.
func (e *Engine) dropGatewayConfig(ctx context.Context, name string) error {
	c, err := e.findConfigByName(ctx, name)
	if err != nil || c == nil {
		return err
	}
	return e.deleteConfig(ctx, deref(c.ID), "config "+name)
}

func (e *Engine) findPolicy(ctx context.Context, name string) (*rest_model.ServicePolicyDetail, error) {
	filter := fmt.Sprintf("name = %s", quoteFilter(name))
	var l *service_policy.ListServicePoliciesOK
	err := retryList(ctx, func() (err error) {
		l, err = e.c.API.ServicePolicy.ListServicePolicies(service_policy.NewListServicePoliciesParamsWithContext(ctx).WithFilter(&filter), nil)
		return controller.Explain(err, "looking up service policy "+name)
	})
	if err != nil {
		return nil, err
	}
	for _, p := range l.Payload.Data {
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
	if have.same(want) {
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
	_, routers, err := e.derivedPolicies(ctx)
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

// ControlService names a gateway agent's dark control service.
func ControlService(gateway string) string { return "agentmesh.ctl." + gateway }

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
		resp, err := e.c.API.Service.CreateService(service.NewCreateServiceParamsWithContext(ctx).WithService(&rest_model.ServiceCreate{
			Name: ptr(name), EncryptionRequired: ptr(true), RoleAttributes: []string{EndpointRole}, Configs: nonNilList(configs),
			Tags: ownTags("derived", TagOwner, owner),
		}), nil)
		if err != nil {
			return controller.Explain(err, "creating service "+name)
		}
		sid = resp.Payload.Data.ID
	} else {
		sid = deref(have.ID)
		if configs != nil && !slices.Equal(sortedCopy(have.Configs), sortedCopy(configs)) {
			_, err := e.c.API.Service.PatchService(service.NewPatchServiceParamsWithContext(ctx).WithID(sid).WithService(&rest_model.ServicePatch{Configs: configs}), nil)
			if err != nil {
				return controller.Explain(err, "attaching configs to service "+name)
			}
		}
	}
	for _, p := range []PolicySpec{
		{Name: "agentmesh.gw.bind." + name, Type: "Bind", Semantic: "AnyOf", IdentityRoles: []string{"@" + binder}, ServiceRoles: []string{"@" + sid}, Owner: owner},
		{Name: "agentmesh.gw.dial." + name, Type: "Dial", Semantic: "AnyOf", IdentityRoles: []string{"@" + dialer}, ServiceRoles: []string{"@" + sid}, Owner: owner},
	} {
		if err := e.ensurePolicy(ctx, p); err != nil {
			return err
		}
	}
	return nil
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
	for _, p := range []string{"agentmesh.gw.bind." + name, "agentmesh.gw.dial." + name} {
		if err := e.deletePolicyByName(ctx, p); err != nil {
			return err
		}
	}
	return e.deleteService(ctx, sid)
}
