package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/config"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/reconciler/controller"
	"github.com/agentmesh/agentmesh/reconciler/derive"
	"github.com/agentmesh/agentmesh/reconciler/intent"
)

// configKind is one kind of intent stored as a Ziti config. The config type
// carries a JSON schema, so the controller itself rejects malformed intent.
type configKind struct {
	typeName string // the config type, e.g. agentmesh.workgroup.v1
	prefix   string // config names are <prefix><key>
	label    string // for messages
	schema   map[string]any
}

var (
	orgSchema = map[string]any{"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", "maxLength": 63}
	nameSet   = map[string]any{"type": "array", "items": orgSchema, "uniqueItems": true}
	limit     = map[string]any{"type": "integer", "minimum": 0}
	port      = map[string]any{"type": "integer", "minimum": 1, "maximum": 65535}
	strictObj = func(required []string, props map[string]any) map[string]any {
		return map[string]any{"type": "object", "additionalProperties": false, "required": required, "properties": props}
	}

	kindWorkgroup = &configKind{
		typeName: "agentmesh.workgroup.v1", prefix: "agentmesh.workgroup.", label: "workgroup",
		schema: strictObj([]string{"name", "owner_organization"}, map[string]any{
			"name": orgSchema, "description": map[string]any{"type": "string", "maxLength": 4096},
			"owner_organization": orgSchema, "participating_organizations": nameSet,
		}),
	}
	kindMembership = &configKind{
		typeName: "agentmesh.membership.v1", prefix: "agentmesh.membership.", label: "workgroup membership",
		schema: strictObj([]string{"workgroup", "identity", "role"}, map[string]any{
			"workgroup": orgSchema, "identity": map[string]any{"type": "string", "minLength": 1},
			"role": map[string]any{"enum": MembershipRoles},
		}),
	}
	kindContract = &configKind{
		typeName: "agentmesh.contract.v1", prefix: "agentmesh.contract.", label: "contract",
		schema: strictObj([]string{"name", "owner_organization", "max_duration_seconds", "max_message_count", "max_message_bytes", "allowed_message_types", "required_workgroups", "access_mode"}, map[string]any{
			"name": orgSchema, "owner_organization": orgSchema, "description": map[string]any{"type": "string", "maxLength": 4096},
			"max_duration_seconds": limit, "max_message_count": limit, "max_message_bytes": limit,
			"allowed_message_types": map[string]any{"type": "array", "items": map[string]any{"type": "string", "minLength": 1}, "uniqueItems": true},
			"required_workgroups":   nameSet,
			"access_mode":           map[string]any{"enum": AccessModes},
		}),
	}
	kindEndpoint = &configKind{
		typeName: "agentmesh.endpoint.v1", prefix: derive.EndpointConfigPrefix, label: "endpoint",
		schema: strictObj([]string{"name", "host", "workgroups", "contract"}, map[string]any{
			"name": map[string]any{"type": "string", "minLength": 1}, "host": map[string]any{"type": "string", "minLength": 1},
			"workgroups": map[string]any{"type": "array", "items": orgSchema, "minItems": 1, "uniqueItems": true},
			"contract":   orgSchema, "description": map[string]any{"type": "string", "maxLength": 4096},
			"capabilities": map[string]any{"type": "array", "items": strictObj([]string{"name"}, map[string]any{
				"name": map[string]any{"type": "string", "minLength": 1}, "description": map[string]any{"type": "string"},
			})},
			"interaction_patterns": map[string]any{"type": "array", "items": map[string]any{"enum": InteractionPatterns}, "uniqueItems": true},
			"intercept": strictObj([]string{"protocols", "addresses", "port"}, map[string]any{
				"protocols": map[string]any{"type": "array", "items": map[string]any{"enum": Protocols}, "minItems": 1, "uniqueItems": true},
				"addresses": map[string]any{"type": "array", "items": map[string]any{"type": "string", "minLength": 1}, "minItems": 1, "uniqueItems": true},
				"port":      port,
			}),
			"host_address": strictObj([]string{"protocol", "address", "port"}, map[string]any{
				"protocol": map[string]any{"enum": Protocols}, "address": map[string]any{"type": "string", "minLength": 1}, "port": port,
			}),
			"hosting": map[string]any{"enum": intent.Hostings},
		}),
	}
	kindApproval = &configKind{
		typeName: "agentmesh.approval.v1", prefix: "agentmesh.approval.", label: "approval",
		schema: strictObj([]string{"endpoint", "consumer", "organization"}, map[string]any{
			"endpoint": map[string]any{"type": "string", "minLength": 1}, "consumer": map[string]any{"type": "string", "minLength": 1},
			"organization": orgSchema, "expires_at": map[string]any{"type": "string", "minLength": 1},
		}),
	}
	// Ziti's own tunneller config types; they exist on every controller.
	kindIntercept = &configKind{typeName: derive.InterceptType, prefix: derive.InterceptConfigPrefix, label: "intercept config"}
	kindHost      = &configKind{typeName: derive.HostType, prefix: derive.HostConfigPrefix, label: "host config"}
	configKinds   = []*configKind{kindWorkgroup, kindMembership, kindContract, kindEndpoint, kindApproval, kindGatewayReg, kindLLMRoute, kindMCPRoute}
)

// tunnellerKind is the config kind of a derived tunneller config's type.
func tunnellerKind(typeName string) *configKind {
	if typeName == kindHost.typeName {
		return kindHost
	}
	return kindIntercept
}

// configTypes resolves (and on first use creates) agentmesh's config types.
type configTypes struct {
	mu  sync.Mutex
	ids map[string]string // type name -> id
}

func (e *Engine) configTypeID(ctx context.Context, k *configKind) (string, error) {
	e.types.mu.Lock()
	defer e.types.mu.Unlock()
	if id, ok := e.types.ids[k.typeName]; ok {
		return id, nil
	}
	id, err := e.resolveConfigType(ctx, k)
	if err == nil {
		e.types.ids[k.typeName] = id
	}
	return id, err
}

// resolveConfigType finds the config type (bringing its schema up to date)
// or creates it. It takes no lock.
func (e *Engine) resolveConfigType(ctx context.Context, k *configKind) (string, error) {
	filter := fmt.Sprintf("name = %s", quoteFilter(k.typeName))
	types, err := listAll(ctx, func(limit, offset *int64) ([]*rest_model.ConfigTypeDetail, *rest_model.Meta, error) {
		r, err := e.c.API.Config.ListConfigTypes(config.NewListConfigTypesParamsWithContext(ctx).WithFilter(&filter).WithLimit(limit).WithOffset(offset), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "looking up config type "+k.typeName)
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
	if err != nil {
		return "", err
	}
	for _, t := range types {
		if deref(t.Name) != k.typeName {
			continue
		}
		// A type made by an older agentmesh gets the current schema.
		if k.schema != nil && !sameJSON(t.Schema, k.schema) {
			_, err := e.c.API.Config.UpdateConfigType(config.NewUpdateConfigTypeParamsWithContext(ctx).WithID(deref(t.ID)).WithConfigType(&rest_model.ConfigTypeUpdate{
				Name: ptr(k.typeName), Schema: k.schema, Tags: ownTags("config-type"),
			}), nil)
			if err != nil {
				return "", controller.Explain(err, "updating the schema of config type "+k.typeName)
			}
			e.log.InfoContext(ctx, "updated config type schema", "type", k.typeName)
		}
		return deref(t.ID), nil
	}
	if k.schema == nil {
		return "", fmt.Errorf("config type %s does not exist on this controller: %w", k.typeName, controller.ErrNotFound)
	}
	resp, err := e.c.API.Config.CreateConfigType(config.NewCreateConfigTypeParamsWithContext(ctx).WithConfigType(&rest_model.ConfigTypeCreate{
		Name: ptr(k.typeName), Schema: k.schema, Tags: ownTags("config-type"),
	}), nil)
	if err != nil {
		return "", controller.Explain(err, "creating config type "+k.typeName)
	}
	e.log.InfoContext(ctx, "created config type", "type", k.typeName)
	return resp.Payload.Data.ID, nil
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// claims remembers the names this engine created during its run, so a
// name declared twice in one configuration is refused instead of both
// resources silently sharing one object.
type claims struct {
	mu    sync.Mutex
	names map[string]bool
}

func (c *claims) claim(kind, name string) (release func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.names == nil {
		c.names = map[string]bool{}
	}
	key := kind + "/" + name
	if c.names[key] {
		return nil, fmt.Errorf("%w: %s %q is declared more than once; names are unique on the network", ErrInvalidIntent, kind, name)
	}
	c.names[key] = true
	return func() {
		c.mu.Lock()
		delete(c.names, key)
		c.mu.Unlock()
	}, nil
}

// ownTags marks a derived or intent object as agentmesh's.
func ownTags(kind string, extra ...string) *rest_model.Tags {
	t := rest_model.SubTags{TagManagedBy: TagManagedValue, TagKind: kind}
	for i := 0; i+1 < len(extra); i += 2 {
		t[extra[i]] = extra[i+1]
	}
	return &rest_model.Tags{SubTags: t}
}

func isManaged(t *rest_model.Tags) bool {
	return t != nil && t.SubTags[TagManagedBy] == TagManagedValue
}

func decodeConfig[T any](d *rest_model.ConfigDetail) (*Stored[T], error) {
	s := &Stored[T]{ID: deref(d.ID), Name: deref(d.Name), Managed: isManaged(d.Tags)}
	b, err := json.Marshal(d.Data)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &s.Value); err != nil {
		return nil, fmt.Errorf("config %s (%s) does not hold a valid %T: %w", s.Name, s.ID, s.Value, err)
	}
	return s, nil
}

// createConfig stores intent under a unique name. An existing config of that
// name is adopted when agentmesh owns it and refused otherwise.
func createConfig[T any](ctx context.Context, e *Engine, k *configKind, key string, v T) (*Stored[T], error) {
	typeID, err := e.configTypeID(ctx, k)
	if err != nil {
		return nil, err
	}
	name := k.prefix + key
	release, err := e.claims.claim(k.label, key)
	if err != nil {
		return nil, err
	}
	// A create whose answer was lost (or that a proxy answered 503) may or
	// may not have happened: look first, and create again only when the
	// object provably does not exist.
	var resp *config.CreateConfigCreated
	for attempt := 1; ; attempt++ {
		resp, err = e.c.API.Config.CreateConfig(config.NewCreateConfigParamsWithContext(ctx).WithConfig(&rest_model.ConfigCreate{
			Name: ptr(name), ConfigTypeID: ptr(typeID), Data: v, Tags: ownTags(k.label),
		}), nil)
		if err == nil {
			break
		}
		err = controller.Explain(err, fmt.Sprintf("creating %s %q", k.label, key))
		if controller.Permanent(err) {
			return nil, err
		}
		existing, ferr := findConfig[T](ctx, e, k, key)
		if e.createAgain(ctx, k.label, key, attempt, err, ferr) {
			continue
		}
		if ferr != nil {
			release()
			return nil, err
		}
		// Adopt only our own object holding exactly this intent: that is a
		// re-apply after a lost response, not a second declaration.
		if !existing.Managed || !sameJSON(existing.Value, v) {
			release()
			return nil, fmt.Errorf("creating %s %q: %w (config %s). Import it, or choose another name", k.label, key, ErrNameTaken, existing.ID)
		}
		e.log.InfoContext(ctx, "adopting an identical agentmesh object of the same name", "kind", k.label, "name", key, "id", existing.ID)
		return existing, nil
	}
	// The controller stores what it accepted: the object is known without
	// reading it back.
	d := &rest_model.ConfigDetail{
		BaseEntity:   rest_model.BaseEntity{ID: ptr(resp.Payload.Data.ID), Tags: ownTags(k.label)},
		Name:         ptr(name),
		ConfigTypeID: ptr(typeID),
		ConfigType:   &rest_model.EntityRef{ID: typeID, Name: k.typeName},
		Data:         v,
	}
	e.configs.put(d)
	return &Stored[T]{ID: resp.Payload.Data.ID, Name: name, Managed: true, Value: v}, nil
}

// createAttempts bounds creating one intent object again after failures
// that provably left nothing behind.
const createAttempts = 4

// createAgain says whether a create that failed with err (explained) is
// to be made again: the failure was the network's (the controller may or
// may not have acted), the lookup after it (ferr) proved nothing was
// created, and attempts remain. It waits before saying yes.
func (e *Engine) createAgain(ctx context.Context, kind, name string, attempt int, err, ferr error) bool {
	if !controller.IsNotFound(ferr) || !errors.Is(err, controller.ErrUnreachable) || attempt >= createAttempts {
		return false
	}
	e.log.InfoContext(ctx, "the create did not happen; creating again", "kind", kind, "name", name, "attempt", attempt, "error", err.Error())
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		return true
	}
}

func findConfig[T any](ctx context.Context, e *Engine, k *configKind, key string) (*Stored[T], error) {
	// A snapshot this pass already loaded answers without a request; it
	// holds this engine's own writes. A miss is checked on the controller.
	if d, ok := e.configs.find(func(d *rest_model.ConfigDetail) bool { return deref(d.Name) == k.prefix+key }); ok {
		return decodeConfig[T](d)
	}
	filter := fmt.Sprintf("name = %s", quoteFilter(k.prefix+key))
	items, err := listAll(ctx, func(limit, offset *int64) ([]*rest_model.ConfigDetail, *rest_model.Meta, error) {
		r, err := e.c.API.Config.ListConfigs(config.NewListConfigsParamsWithContext(ctx).WithFilter(&filter).WithLimit(limit).WithOffset(offset), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, fmt.Sprintf("looking up %s %q", k.label, key))
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
	if err != nil {
		return nil, err
	}
	for _, d := range items {
		if deref(d.Name) == k.prefix+key {
			return decodeConfig[T](d)
		}
	}
	return nil, fmt.Errorf("%s %q: %w", k.label, key, controller.ErrNotFound)
}

func readConfig[T any](ctx context.Context, e *Engine, id string) (*Stored[T], error) {
	if d, ok, err := e.configs.get(ctx, id); err != nil {
		return nil, err
	} else if ok {
		return decodeConfig[T](d)
	}
	resp, err := e.c.API.Config.DetailConfig(config.NewDetailConfigParamsWithContext(ctx).WithID(id), nil)
	if err != nil {
		return nil, controller.Explain(err, "reading config "+id)
	}
	e.configs.put(resp.Payload.Data)
	return decodeConfig[T](resp.Payload.Data)
}

func updateConfig[T any](ctx context.Context, e *Engine, k *configKind, id, key string, v T) (*Stored[T], error) {
	_, err := e.c.API.Config.PatchConfig(config.NewPatchConfigParamsWithContext(ctx).WithID(id).WithConfig(&rest_model.ConfigPatch{
		Name: k.prefix + key, Data: v, Tags: ownTags(k.label),
	}), nil)
	if err != nil {
		return nil, controller.Explain(err, fmt.Sprintf("updating %s %q", k.label, key))
	}
	e.configs.forget(id)
	resp, err := e.c.API.Config.DetailConfig(config.NewDetailConfigParamsWithContext(ctx).WithID(id), nil)
	if err != nil {
		return nil, controller.Explain(err, "reading config "+id)
	}
	e.configs.put(resp.Payload.Data)
	return decodeConfig[T](resp.Payload.Data)
}

func (e *Engine) deleteConfig(ctx context.Context, id, what string) error {
	_, err := e.c.API.Config.DeleteConfig(config.NewDeleteConfigParamsWithContext(ctx).WithID(id), nil)
	e.configs.forget(id)
	if err != nil {
		err = controller.Explain(err, "deleting "+what)
		if errors.Is(err, controller.ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// listManagedConfigs reads every agentmesh config with one paged list.
func (e *Engine) listManagedConfigs(ctx context.Context) ([]*rest_model.ConfigDetail, error) {
	filter := managedFilter
	return listAll(ctx, func(limit, offset *int64) ([]*rest_model.ConfigDetail, *rest_model.Meta, error) {
		p := config.NewListConfigsParamsWithContext(ctx).WithFilter(&filter).WithLimit(limit).WithOffset(offset)
		r, err := e.c.API.Config.ListConfigs(p, nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "listing agentmesh configs")
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
}

// configsOf returns the snapshot's configs of one kind, decoded. It goes
// by the type name each listed config carries, so reading costs no
// config-type lookup (and never creates a type).
func configsOf[T any](ctx context.Context, e *Engine, k *configKind) ([]*Stored[T], error) {
	all, err := e.configs.all(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Stored[T]
	for _, d := range all {
		if d.ConfigType == nil || d.ConfigType.Name != k.typeName {
			continue
		}
		s, err := decodeConfig[T](d)
		if err != nil {
			e.log.WarnContext(ctx, "ignoring an unreadable agentmesh config", "config", deref(d.Name), "error", err.Error())
			continue
		}
		out = append(out, s)
	}
	return out, nil
}
