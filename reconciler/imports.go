package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// Kinds ResolveImport knows, with the readable id each imports by.
const (
	ImportIdentity   = "identity"   // <name>
	ImportWorkgroup  = "workgroup"  // <name>
	ImportContract   = "contract"   // <name>
	ImportEndpoint   = "endpoint"   // <name>
	ImportGateway    = "gateway"    // <name>
	ImportMembership = "membership" // <workgroup>/<identity name>
	ImportLLMRoute   = "llm route"  // <gateway>/<route>
	ImportMCPRoute   = "mcp route"  // <gateway>/<namespace>
	ImportApproval   = "approval"   // <endpoint>/<consumer identity name>
)

// importHints say where a user finds what to import by.
var importHints = map[string]string{
	ImportIdentity:   "identity names are listed by `ziti edge list identities`",
	ImportWorkgroup:  "workgroup names are listed by the agentmesh_workgroups data source",
	ImportContract:   "contract names are what agentmesh_contract.name was set to",
	ImportEndpoint:   "endpoint names are service names: `ziti edge list services`",
	ImportGateway:    "gateway names are what agentmesh_gateway.name was set to",
	ImportMembership: "a membership imports as <workgroup>/<identity name>, for example research/pulse-agent",
	ImportLLMRoute:   "an llm route imports as <gateway>/<route name>",
	ImportMCPRoute:   "an mcp route imports as <gateway>/<namespace>",
	ImportApproval:   "an approval imports as <endpoint>/<consumer identity name>, for example news-pulse/pulse-agent",
}

// ResolveImport turns what a user gives an import (a name, a
// <parent>/<name> pair, or the Ziti id) into the resource's id. An id is
// taken as it is; a string that is both one object's id and another's
// name is refused as ambiguous, and an unknown one says what to look up.
func (e *Engine) ResolveImport(ctx context.Context, kind, given string) (string, error) {
	byID, byName := e.importLookups(kind)
	if byID == nil {
		return "", fmt.Errorf("%w: cannot import a %s", ErrInvalidIntent, kind)
	}
	idFound := false
	if !strings.Contains(given, "/") {
		err := byID(ctx, given)
		if err != nil && !controller.IsNotFound(err) {
			return "", err
		}
		idFound = err == nil
	}
	named, err := byName(ctx, given)
	if err != nil && !controller.IsNotFound(err) && !errors.Is(err, errImportShape) {
		return "", err
	}
	switch {
	case idFound && named != "" && named != given:
		return "", fmt.Errorf("%w: %q is the id of one %s and the name of another (id %s); import by the id you mean", ErrInvalidIntent, given, kind, named)
	case idFound:
		return given, nil
	case named != "":
		return named, nil
	}
	return "", fmt.Errorf("%w: no %s has the id or name %q; %s", ErrInvalidIntent, kind, given, importHints[kind])
}

var errImportShape = errors.New("not a readable id of this kind")

type (
	lookupID   func(context.Context, string) error
	lookupName func(context.Context, string) (string, error)
)

func (e *Engine) importLookups(kind string) (lookupID, lookupName) {
	config := func(k *configKind) lookupID {
		return func(ctx context.Context, id string) error {
			_, err := readKind[map[string]any](ctx, e, k, id)
			return err
		}
	}
	named := func(k *configKind, key func(context.Context, string) (string, error)) lookupName {
		return func(ctx context.Context, given string) (string, error) {
			kk, err := key(ctx, given)
			if err != nil {
				return "", err
			}
			s, err := findConfig[map[string]any](ctx, e, k, kk)
			if err != nil {
				return "", err
			}
			return s.ID, nil
		}
	}
	plain := func(_ context.Context, s string) (string, error) { return s, nil }
	// pair turns <parent>/<name> into the config's key, parent.name, with
	// the name first resolved by resolve (memberships key by identity id).
	pair := func(resolve func(context.Context, string) (string, error)) func(context.Context, string) (string, error) {
		return func(ctx context.Context, given string) (string, error) {
			parent, name, ok := strings.Cut(given, "/")
			if !ok || parent == "" || name == "" || strings.Contains(name, "/") {
				return "", errImportShape
			}
			if resolve != nil {
				var err error
				if name, err = resolve(ctx, name); err != nil {
					return "", err
				}
			}
			return parent + "." + name, nil
		}
	}
	switch kind {
	case ImportIdentity:
		return func(ctx context.Context, id string) error {
				_, err := e.ObserveIdentity(ctx, id)
				return err
			}, func(ctx context.Context, name string) (string, error) {
				o, err := e.FindIdentityByName(ctx, name)
				if err != nil {
					return "", err
				}
				return o.ID, nil
			}
	case ImportEndpoint:
		return func(ctx context.Context, id string) error {
				_, err := e.ObserveEndpoint(ctx, id)
				return err
			}, func(ctx context.Context, name string) (string, error) {
				s, err := e.findService(ctx, name)
				if err != nil {
					return "", err
				}
				return deref(s.ID), nil
			}
	case ImportWorkgroup:
		return config(kindWorkgroup), named(kindWorkgroup, plain)
	case ImportContract:
		return config(kindContract), named(kindContract, plain)
	case ImportGateway:
		return config(kindGatewayReg), named(kindGatewayReg, plain)
	case ImportMembership:
		identityID := func(ctx context.Context, name string) (string, error) {
			o, err := e.FindIdentityByName(ctx, name)
			if err != nil {
				return "", err
			}
			return o.ID, nil
		}
		return config(kindMembership), named(kindMembership, pair(identityID))
	case ImportApproval:
		ids := func(ctx context.Context, given string) (string, error) {
			endpoint, consumer, ok := strings.Cut(given, "/")
			if !ok || endpoint == "" || consumer == "" || strings.Contains(consumer, "/") {
				return "", errImportShape
			}
			s, err := e.findService(ctx, endpoint)
			if err != nil {
				return "", err
			}
			o, err := e.FindIdentityByName(ctx, consumer)
			if err != nil {
				return "", err
			}
			return approvalKey(&Approval{Endpoint: deref(s.ID), Consumer: o.ID}), nil
		}
		return config(kindApproval), named(kindApproval, ids)
	case ImportLLMRoute:
		return config(kindLLMRoute), named(kindLLMRoute, pair(nil))
	case ImportMCPRoute:
		return config(kindMCPRoute), named(kindMCPRoute, pair(nil))
	}
	return nil, nil
}
