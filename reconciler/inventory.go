package reconciler

import (
	"context"
	"fmt"
	"sync"

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
		derived := s.Tags != nil && s.Tags.SubTags[TagKind] == "derived"
		out = append(out, Object{ID: deref(s.ID), Name: deref(s.Name), Kind: "service", Intent: !derived})
		for _, c := range s.Configs {
			carriedBy[c] = deref(s.ID)
		}
	}
	cfgs, err := e.configs.all(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range cfgs {
		kind := tagOf(d.Tags, TagKind)
		o := Object{ID: deref(d.ID), Name: deref(d.Name), Kind: "config", Intent: intentKinds[kind]}
		if kind == kindEndpoint.label {
			o.Owner = carriedBy[o.ID]
		}
		out = append(out, o)
	}
	pols, routers, err := e.derivedPolicies(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range pols {
		out = append(out, Object{ID: p.ID, Name: p.Name, Kind: "service-policy"})
	}
	out = append(out, routers...)
	return out, nil
}

// managedFilter selects the objects carrying agentmesh's ownership tag.
var managedFilter = fmt.Sprintf("tags.%s = %s", TagManagedBy, quoteFilter(TagManagedValue))

// derivedPolicies reads agentmesh's service policies (one paged list) and
// its router policies.
func (e *Engine) derivedPolicies(ctx context.Context) ([]PolicySpec, []Object, error) {
	filter := managedFilter
	pols, err := listAll(ctx, func(limit, offset *int64) ([]*rest_model.ServicePolicyDetail, *rest_model.Meta, error) {
		r, err := e.c.API.ServicePolicy.ListServicePolicies(service_policy.NewListServicePoliciesParamsWithContext(ctx).WithFilter(&filter).WithLimit(limit).WithOffset(offset), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "listing agentmesh service policies")
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
	if err != nil {
		return nil, nil, err
	}
	specs := make([]PolicySpec, 0, len(pols))
	for _, p := range pols {
		spec := PolicySpec{Name: deref(p.Name), ID: deref(p.ID), IdentityRoles: sortedCopy(p.IdentityRoles), ServiceRoles: sortedCopy(p.ServiceRoles)}
		if p.Type != nil {
			spec.Type = string(*p.Type)
		}
		if p.Semantic != nil {
			spec.Semantic = string(*p.Semantic)
		}
		spec.Owner = tagOf(p.Tags, TagOwner)
		specs = append(specs, spec)
	}
	routers, err := e.routerPolicies(ctx)
	if err != nil {
		return nil, nil, err
	}
	return specs, routers, nil
}

// routerPolicies lists agentmesh's two kinds of router policies. They are
// network-wide and made once, so a run lists them once: every convergence
// pass of an apply reuses the answer until Reset (each reconcile pass) or
// this engine creates one.
func (e *Engine) routerPolicies(ctx context.Context) ([]Object, error) {
	e.routers.mu.Lock()
	defer e.routers.mu.Unlock()
	if e.routers.ready {
		return e.routers.objs, nil
	}
	filter := managedFilter
	var routers []Object
	erps, err := listAll(ctx, func(limit, offset *int64) ([]*rest_model.EdgeRouterPolicyDetail, *rest_model.Meta, error) {
		r, err := e.c.API.EdgeRouterPolicy.ListEdgeRouterPolicies(edge_router_policy.NewListEdgeRouterPoliciesParamsWithContext(ctx).WithFilter(&filter).WithLimit(limit).WithOffset(offset), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "listing agentmesh edge router policies")
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range erps {
		routers = append(routers, Object{ID: deref(p.ID), Name: deref(p.Name), Kind: "edge-router-policy"})
	}
	serps, err := listAll(ctx, func(limit, offset *int64) ([]*rest_model.ServiceEdgeRouterPolicyDetail, *rest_model.Meta, error) {
		r, err := e.c.API.ServiceEdgeRouterPolicy.ListServiceEdgeRouterPolicies(service_edge_router_policy.NewListServiceEdgeRouterPoliciesParamsWithContext(ctx).WithFilter(&filter).WithLimit(limit).WithOffset(offset), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "listing agentmesh service edge router policies")
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range serps {
		routers = append(routers, Object{ID: deref(p.ID), Name: deref(p.Name), Kind: "service-edge-router-policy"})
	}
	e.routers.objs, e.routers.ready = routers, true
	return routers, nil
}

// routerCache holds the router policies a run observed.
type routerCache struct {
	mu    sync.Mutex
	ready bool
	objs  []Object
}

func (r *routerCache) forget() {
	r.mu.Lock()
	r.ready = false
	r.mu.Unlock()
}
