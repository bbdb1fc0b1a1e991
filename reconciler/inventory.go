package reconciler

import (
	"context"
	"fmt"

	"github.com/openziti/edge-api/rest_management_api_client/edge_router_policy"
	"github.com/openziti/edge-api/rest_management_api_client/service_edge_router_policy"
	"github.com/openziti/edge-api/rest_management_api_client/service_policy"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// Object is one agentmesh-tagged object on the controller.
type Object struct {
	ID, Name, Kind string
	// Intent objects belong to a Terraform resource; the rest are derived.
	Intent bool
	// Owner is the id of the intent object this one is part of (an
	// endpoint's metadata config belongs to the endpoint's service).
	Owner string
}

// ManagedObjects lists every object carrying agentmesh's ownership tag, so
// audits can account for each one (fault suites count orphans with it).
func (e *Engine) ManagedObjects(ctx context.Context) ([]Object, error) {
	e.Reset()
	var out []Object
	ids, err := e.identities.all(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range ids {
		out = append(out, Object{ID: deref(d.ID), Name: deref(d.Name), Kind: "identity", Intent: true})
	}
	intentKinds := map[string]bool{}
	for _, k := range configKinds {
		intentKinds[k.label] = true
	}
	svcs, err := e.services.all(ctx)
	if err != nil {
		return nil, err
	}
	carriedBy := map[string]string{}
	for _, s := range svcs {
		out = append(out, Object{ID: deref(s.ID), Name: deref(s.Name), Kind: "service", Intent: true})
		for _, c := range s.Configs {
			carriedBy[c] = deref(s.ID)
		}
	}
	cfgs, err := e.configs.all(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range cfgs {
		kind := ""
		if d.Tags != nil {
			kind = fmt.Sprint(d.Tags.SubTags[TagKind])
		}
		o := Object{ID: deref(d.ID), Name: deref(d.Name), Kind: "config", Intent: intentKinds[kind]}
		if kind == kindEndpoint.label {
			o.Owner = carriedBy[o.ID]
		}
		out = append(out, o)
	}
	filter := fmt.Sprintf("tags.%s = %s", TagManagedBy, quoteFilter(TagManagedValue))
	pols, err := listAll(ctx, func(offset int64) ([]*rest_model.ServicePolicyDetail, *rest_model.Meta, error) {
		r, err := e.c.API.ServicePolicy.ListServicePolicies(service_policy.NewListServicePoliciesParamsWithContext(ctx).WithFilter(&filter).WithLimit(ptr(int64(pageSize))).WithOffset(&offset), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "listing agentmesh service policies")
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range pols {
		out = append(out, Object{ID: deref(p.ID), Name: deref(p.Name), Kind: "service-policy"})
	}
	erps, err := e.c.API.EdgeRouterPolicy.ListEdgeRouterPolicies(edge_router_policy.NewListEdgeRouterPoliciesParamsWithContext(ctx).WithFilter(&filter), nil)
	if err != nil {
		return nil, controller.Explain(err, "listing agentmesh edge router policies")
	}
	for _, p := range erps.Payload.Data {
		out = append(out, Object{ID: deref(p.ID), Name: deref(p.Name), Kind: "edge-router-policy"})
	}
	serps, err := e.c.API.ServiceEdgeRouterPolicy.ListServiceEdgeRouterPolicies(service_edge_router_policy.NewListServiceEdgeRouterPoliciesParamsWithContext(ctx).WithFilter(&filter), nil)
	if err != nil {
		return nil, controller.Explain(err, "listing agentmesh service edge router policies")
	}
	for _, p := range serps.Payload.Data {
		out = append(out, Object{ID: deref(p.ID), Name: deref(p.Name), Kind: "service-edge-router-policy"})
	}
	return out, nil
}
