package reconciler

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_management_api_client/service"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/reconciler/controller"
	"github.com/agentmesh/agentmesh/reconciler/intent"
)

func (e *Engine) listManagedServices(ctx context.Context) ([]*rest_model.ServiceDetail, error) {
	filter := managedFilter
	return listAll(ctx, func(limit, offset *int64) ([]*rest_model.ServiceDetail, *rest_model.Meta, error) {
		r, err := e.c.API.Service.ListServices(service.NewListServicesParamsWithContext(ctx).WithFilter(&filter).WithLimit(limit).WithOffset(offset), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "listing agentmesh services")
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
}

// checkEndpointRefs refuses an endpoint whose host, workgroups or contract
// do not exist: an endpoint must never be created half-wired.
func (e *Engine) checkEndpointRefs(ctx context.Context, ep *Endpoint) (*Stored[Contract], error) {
	if err := ep.Validate(); err != nil {
		return nil, err
	}
	var f intent.FieldErrs
	if _, err := e.ObserveIdentity(ctx, ep.Host); controller.IsNotFound(err) {
		f.Add("host", fmt.Errorf("identity %s does not exist", ep.Host))
	} else if err != nil {
		return nil, err
	}
	for _, w := range ep.Workgroups {
		if _, err := e.FindWorkgroup(ctx, w); controller.IsNotFound(err) {
			f.Add("workgroups", fmt.Errorf("workgroup %q does not exist; create it first (agentmesh_workgroup)", w))
		} else if err != nil {
			return nil, err
		}
	}
	con, err := e.FindContract(ctx, ep.Contract)
	if controller.IsNotFound(err) {
		f.Add("contract", fmt.Errorf("contract %q does not exist; create it first (agentmesh_contract)", ep.Contract))
	} else if err != nil {
		return nil, err
	}
	return con, f.Err()
}

func normalizeEndpoint(ep *Endpoint) {
	ep.Workgroups = sortedCopy(ep.Workgroups)
	ep.InteractionPatterns = sortedCopy(ep.InteractionPatterns)
}

// CreateEndpoint creates the endpoint's dark service with its metadata and
// contract configs, then converges its policies. A failure part-way removes
// what was created.
func (e *Engine) CreateEndpoint(ctx context.Context, ep *Endpoint) (*ObservedEndpoint, error) {
	done := e.intentWrite()
	defer done()
	normalizeEndpoint(ep)
	con, err := e.checkEndpointRefs(ctx, ep)
	if err != nil {
		return nil, err
	}
	cfg, err := createConfig(ctx, e, kindEndpoint, ep.Name, *ep)
	if err != nil {
		return nil, err
	}
	configs := sortedCopy([]string{cfg.ID, con.ID})
	resp, err := e.c.API.Service.CreateService(service.NewCreateServiceParamsWithContext(ctx).WithService(&rest_model.ServiceCreate{
		Name: ptr(ep.Name), EncryptionRequired: ptr(true), RoleAttributes: []string{EndpointRole},
		Configs: configs, Tags: ownTags("endpoint"),
	}), nil)
	if err != nil {
		err = controller.Explain(err, fmt.Sprintf("creating the service of endpoint %q", ep.Name))
		if existing, ferr := e.findService(ctx, ep.Name); ferr == nil {
			if !isManaged(existing.Tags) {
				err = fmt.Errorf("creating endpoint %q: %w (service %s). Choose another name", ep.Name, ErrNameTaken, deref(existing.ID))
			} else {
				done()
				return e.UpdateEndpoint(ctx, deref(existing.ID), ep)
			}
		}
		if derr := e.deleteConfig(context.WithoutCancel(ctx), cfg.ID, "endpoint config"); derr != nil {
			err = fmt.Errorf("%w; removing its half-created config %s also failed: %w", err, cfg.ID, derr)
		}
		return nil, err
	}
	sid := resp.Payload.Data.ID
	done()
	if err := e.Converge(ctx); err != nil {
		return &ObservedEndpoint{ServiceID: sid, ConfigID: cfg.ID, Configs: configs, Endpoint: *ep}, fmt.Errorf("endpoint %q was created but its policies did not converge: %w", ep.Name, err)
	}
	return e.observeWritten(ctx, sid, &con.Value)
}

// observeWritten reads back an endpoint just written under contract con.
func (e *Engine) observeWritten(ctx context.Context, sid string, con *Contract) (*ObservedEndpoint, error) {
	o, err := e.ObserveEndpoint(ctx, sid)
	if err == nil {
		o.Unenforced = intent.UnenforcedTerms(con, o.Hosting)
	}
	return o, err
}

func (e *Engine) findService(ctx context.Context, name string) (*rest_model.ServiceDetail, error) {
	filter := fmt.Sprintf("name = %s", quoteFilter(name))
	items, err := listAll(ctx, func(limit, offset *int64) ([]*rest_model.ServiceDetail, *rest_model.Meta, error) {
		r, err := e.c.API.Service.ListServices(service.NewListServicesParamsWithContext(ctx).WithFilter(&filter).WithLimit(limit).WithOffset(offset), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "looking up service "+name)
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
	if err != nil {
		return nil, err
	}
	for _, s := range items {
		if deref(s.Name) == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("service %q: %w", name, controller.ErrNotFound)
}

// ObserveEndpoint reads an endpoint by its service id.
func (e *Engine) ObserveEndpoint(ctx context.Context, sid string) (*ObservedEndpoint, error) {
	s, ok, err := e.services.get(ctx, sid)
	if err != nil {
		return nil, err
	}
	if !ok {
		resp, err := e.c.API.Service.DetailService(service.NewDetailServiceParamsWithContext(ctx).WithID(sid), nil)
		if err != nil {
			return nil, controller.Explain(err, "reading endpoint service "+sid)
		}
		s = resp.Payload.Data
		e.services.put(s)
	}
	endpointType, err := e.configTypeID(ctx, kindEndpoint)
	if err != nil {
		return nil, err
	}
	for _, cid := range s.Configs {
		c, err := readConfig[Endpoint](ctx, e, cid)
		if err != nil {
			if controller.IsNotFound(err) {
				continue
			}
			return nil, err
		}
		d, _, _ := e.configs.get(ctx, cid)
		if d != nil && deref(d.ConfigTypeID) != endpointType {
			continue
		}
		ep := c.Value
		ep.Name = deref(s.Name)
		return &ObservedEndpoint{ServiceID: sid, ConfigID: c.ID, Configs: sortedCopy(s.Configs), Endpoint: ep}, nil
	}
	return nil, fmt.Errorf("service %s (%s) carries no agentmesh endpoint config, so it is not an agentmesh endpoint: %w", deref(s.Name), sid, controller.ErrNotFound)
}

// UpdateEndpoint changes an endpoint in place and converges.
func (e *Engine) UpdateEndpoint(ctx context.Context, sid string, ep *Endpoint) (*ObservedEndpoint, error) {
	normalizeEndpoint(ep)
	con, err := e.checkEndpointRefs(ctx, ep)
	if err != nil {
		return nil, err
	}
	cur, err := e.ObserveEndpoint(ctx, sid)
	if err != nil {
		return nil, err
	}
	if _, err := updateConfig(ctx, e, kindEndpoint, cur.ConfigID, ep.Name, *ep); err != nil {
		return nil, err
	}
	configs := sortedCopy([]string{cur.ConfigID, con.ID})
	_, err = e.c.API.Service.PatchService(service.NewPatchServiceParamsWithContext(ctx).WithID(sid).WithService(&rest_model.ServicePatch{
		Name: ep.Name, Configs: configs, RoleAttributes: []string{EndpointRole}, Tags: ownTags("endpoint"),
	}), nil)
	e.services.forget(sid)
	if err != nil {
		return nil, controller.Explain(err, fmt.Sprintf("updating the service of endpoint %q", ep.Name))
	}
	if err := e.Converge(ctx); err != nil {
		return nil, fmt.Errorf("endpoint %q was updated but its policies did not converge: %w", ep.Name, err)
	}
	return e.observeWritten(ctx, sid, &con.Value)
}

// DeleteEndpoint removes the service, its metadata config and, through
// convergence, its policies.
func (e *Engine) DeleteEndpoint(ctx context.Context, sid string) error {
	cur, err := e.ObserveEndpoint(ctx, sid)
	if controller.IsNotFound(err) {
		return e.Converge(ctx)
	}
	if err != nil {
		return err
	}
	_, err = e.c.API.Service.DeleteService(service.NewDeleteServiceParamsWithContext(ctx).WithID(sid), nil)
	e.services.forget(sid)
	if err = controller.Explain(err, fmt.Sprintf("deleting endpoint %q", cur.Name)); err != nil && !controller.IsNotFound(err) {
		return err
	}
	if err := e.deleteConfig(ctx, cur.ConfigID, "endpoint config"); err != nil {
		return err
	}
	return e.Converge(ctx)
}

// endpointsUsing lists endpoints that reference a workgroup or contract.
func (e *Engine) endpointsUsing(ctx context.Context, match func(*Endpoint) bool) ([]string, error) {
	eps, err := configsOf[Endpoint](ctx, e, kindEndpoint)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, ep := range eps {
		if match(&ep.Value) {
			names = append(names, ep.Value.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// ErrInUse refuses deleting an object others still depend on.
var ErrInUse = errors.New("still in use")

func inUse(what string, users []string) error {
	return fmt.Errorf("%w: %s is used by %v; change or delete those first", ErrInUse, what, users)
}

// Dialers asks the controller, from its own evaluation of the live
// policies, which identities may dial a service. It answers with names.
func (e *Engine) Dialers(ctx context.Context, serviceID string) ([]string, error) {
	items, err := listAll(ctx, func(limit, offset *int64) ([]*rest_model.IdentityDetail, *rest_model.Meta, error) {
		r, err := e.c.API.Service.ListServiceIdentities(service.NewListServiceIdentitiesParamsWithContext(ctx).WithID(serviceID).
			WithPolicyType(ptr("dial")).WithLimit(limit).WithOffset(offset), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "asking the controller who may dial service "+serviceID)
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(items))
	for _, i := range items {
		names = append(names, deref(i.Name))
	}
	sort.Strings(names)
	return names, nil
}

// Dialable asks the controller which services an identity may dial.
func (e *Engine) Dialable(ctx context.Context, identityID string) ([]string, error) {
	items, err := listAll(ctx, func(limit, offset *int64) ([]*rest_model.ServiceDetail, *rest_model.Meta, error) {
		// This sub-list takes no limit parameter: the page goes in the
		// filter, which the controller reads the same way.
		page := fmt.Sprintf("skip %d limit %d", *offset, *limit)
		r, err := e.c.API.Identity.ListIdentityServices(identity.NewListIdentityServicesParamsWithContext(ctx).WithID(identityID).
			WithPolicyType(ptr("dial")).WithFilter(&page), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "asking the controller what identity "+identityID+" may dial")
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(items))
	for _, s := range items {
		names = append(names, deref(s.Name))
	}
	sort.Strings(names)
	return names, nil
}

// FindEndpoint looks an endpoint up by its service name.
func (e *Engine) FindEndpoint(ctx context.Context, name string) (*ObservedEndpoint, error) {
	s, err := e.findService(ctx, name)
	if err != nil {
		return nil, err
	}
	return e.ObserveEndpoint(ctx, deref(s.ID))
}

func (e *Engine) deleteService(ctx context.Context, id string) error {
	_, err := e.c.API.Service.DeleteService(service.NewDeleteServiceParamsWithContext(ctx).WithID(id), nil)
	e.services.forget(id)
	if err = controller.Explain(err, "deleting service "+id); controller.IsNotFound(err) {
		return nil
	}
	return err
}
