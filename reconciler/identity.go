package reconciler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// identityMatches reports whether the observed identity already holds the
// intent.
func identityMatches(o *ObservedIdentity, in *Identity) bool {
	policy := in.AuthPolicyID
	if policy == "" {
		policy = "default"
	}
	tags := in.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	return o.Name == in.Name && o.Organization == in.Organization && o.Kind == in.Kind &&
		o.AuthPolicyID == policy && o.Disabled == in.Disabled &&
		slices.Equal(o.RoleAttributes, sortedCopy(in.RoleAttributes)) && maps.Equal(o.Tags, tags)
}

// zitiType maps a kind onto the controller's identity type, in one place.
// Ziti 1.6 stores "Device" as "Default", so the kind itself is kept in a tag
// and never read back from the type.
func zitiType(kind string) rest_model.IdentityType {
	switch kind {
	case KindUser:
		return rest_model.IdentityTypeUser
	case KindService, KindGateway:
		return rest_model.IdentityTypeService
	default:
		return rest_model.IdentityTypeDefault
	}
}

// kindFromType guesses the kind of an identity agentmesh did not create.
func kindFromType(t string) string {
	switch t {
	case string(rest_model.IdentityTypeUser):
		return KindUser
	case string(rest_model.IdentityTypeService):
		return KindService
	}
	return KindAgent
}

func orgRole(org string) string { return "org." + org }

func isReserved(attr string) bool {
	for _, p := range ReservedRolePrefixes {
		if strings.HasPrefix(strings.ToLower(attr), p) {
			return true
		}
	}
	return false
}

func observeIdentity(d *rest_model.IdentityDetail) *ObservedIdentity {
	o := &ObservedIdentity{ID: deref(d.ID)}
	o.Name = deref(d.Name)
	o.AuthPolicyID = deref(d.AuthPolicyID)
	o.Disabled = deref(d.Disabled)
	tags := map[string]string{}
	if d.Tags != nil {
		for k, v := range d.Tags.SubTags {
			tags[k] = fmt.Sprint(v)
		}
	}
	o.Managed = tags[TagManagedBy] == TagManagedValue
	o.Kind = tags[TagKind]
	if o.Kind == "" || ValidateKind(o.Kind) != nil {
		typeID := deref(d.TypeID)
		if typeID == "" && d.Type != nil {
			typeID = d.Type.ID
		}
		o.Kind = kindFromType(typeID)
	}
	o.Tags = map[string]string{}
	for k, v := range tags {
		if !strings.HasPrefix(k, ReservedTagPrefix) {
			o.Tags[k] = v
		}
	}
	if d.RoleAttributes != nil {
		for _, a := range *d.RoleAttributes {
			if isReserved(a) {
				o.Reserved = append(o.Reserved, a)
				if strings.HasPrefix(a, "org.") && o.Organization == "" {
					o.Organization = strings.TrimPrefix(a, "org.")
				}
				continue
			}
			o.RoleAttributes = append(o.RoleAttributes, a)
		}
	}
	if org := tags[TagOrganization]; org != "" {
		o.Organization = org
	}
	sort.Strings(o.RoleAttributes)
	if d.Enrollment != nil && d.Enrollment.Ott != nil {
		o.EnrollmentJWT = d.Enrollment.Ott.JWT
		o.EnrollmentExpiresAt = time.Time(d.Enrollment.Ott.ExpiresAt)
	}
	o.Enrolled = d.Authenticators != nil && (d.Authenticators.Cert != nil || d.Authenticators.Updb != nil)
	return o
}

// desiredRoles merges user attributes with the reconciler-owned ones the
// controller already holds (wg.* written by membership derivation) and the
// organisation role.
func desiredRoles(in *Identity, current []string) rest_model.Attributes {
	out := slices.Clone(in.RoleAttributes)
	for _, a := range current {
		if isReserved(a) && !strings.HasPrefix(a, "org.") {
			out = append(out, a)
		}
	}
	if in.Organization != "" {
		out = append(out, orgRole(in.Organization))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func desiredTags(in *Identity) *rest_model.Tags {
	t := rest_model.SubTags{}
	for k, v := range in.Tags {
		t[k] = v
	}
	t[TagManagedBy] = TagManagedValue
	t[TagKind] = in.Kind
	if in.Organization != "" {
		t[TagOrganization] = in.Organization
	}
	return &rest_model.Tags{SubTags: t}
}

// ObserveIdentity reads one identity. It answers from the run's shared
// snapshot when it can, so a refresh of N identities costs one paged list,
// not N requests. A missing identity returns controller.ErrNotFound.
func (e *Engine) ObserveIdentity(ctx context.Context, id string) (*ObservedIdentity, error) {
	if d, ok, err := e.identities.get(ctx, id); err != nil {
		return nil, err
	} else if ok {
		return observeIdentity(d), nil
	}
	return e.fetchIdentity(ctx, id)
}

func (e *Engine) fetchIdentity(ctx context.Context, id string) (*ObservedIdentity, error) {
	resp, err := e.c.API.Identity.DetailIdentity(identity.NewDetailIdentityParamsWithContext(ctx).WithID(id), nil)
	if err != nil {
		return nil, controller.Explain(err, fmt.Sprintf("reading identity %s", id))
	}
	e.identities.put(resp.Payload.Data)
	return observeIdentity(resp.Payload.Data), nil
}

// FindIdentityByName returns the identity with this exact name, or
// controller.ErrNotFound.
func (e *Engine) FindIdentityByName(ctx context.Context, name string) (*ObservedIdentity, error) {
	filter := fmt.Sprintf("name = %s", quoteFilter(name))
	items, err := listAll(ctx, func(limit, offset *int64) ([]*rest_model.IdentityDetail, *rest_model.Meta, error) {
		r, err := e.c.API.Identity.ListIdentities(identity.NewListIdentitiesParamsWithContext(ctx).WithFilter(&filter).WithLimit(limit).WithOffset(offset), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, fmt.Sprintf("looking up identity %q", name))
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
	if err != nil {
		return nil, err
	}
	for _, d := range items {
		if deref(d.Name) == name {
			return observeIdentity(d), nil
		}
	}
	return nil, fmt.Errorf("identity %q: %w", name, controller.ErrNotFound)
}

// CreateIdentity creates the identity with a one-time enrollment and
// returns it with its enrollment JWT. If an identity of that name already
// exists it is adopted when agentmesh owns it (a re-apply after a lost
// response) and refused otherwise.
func (e *Engine) CreateIdentity(ctx context.Context, in *Identity) (*ObservedIdentity, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	body := &rest_model.IdentityCreate{
		Name:           ptr(in.Name),
		Type:           zitiType(in.Kind).Pointer(),
		IsAdmin:        ptr(false),
		RoleAttributes: ptr(desiredRoles(in, nil)),
		Tags:           desiredTags(in),
		Enrollment:     &rest_model.IdentityCreateEnrollment{Ott: true},
	}
	if in.AuthPolicyID != "" {
		body.AuthPolicyID = ptr(in.AuthPolicyID)
	}
	release, err := e.claims.claim("identity", in.Name)
	if err != nil {
		return nil, err
	}
	var resp *identity.CreateIdentityCreated
	for attempt := 1; ; attempt++ {
		resp, err = e.c.API.Identity.CreateIdentity(identity.NewCreateIdentityParamsWithContext(ctx).WithIdentity(body), nil)
		if err == nil {
			break
		}
		if controller.Permanent(err) {
			release()
			return nil, controller.Explain(err, fmt.Sprintf("creating identity %q", in.Name))
		}
		// POST is not idempotent: the object may exist (name clash, or
		// created before the response was lost). Look before failing, and
		// create again only when it provably does not exist.
		existing, ferr := e.FindIdentityByName(ctx, in.Name)
		if e.createAgain(ctx, "identity", in.Name, attempt, controller.Explain(err, "creating identity "+in.Name), ferr) {
			continue
		}
		release()
		if ferr != nil {
			err = controller.Explain(err, fmt.Sprintf("creating identity %q", in.Name))
			if errors.Is(err, controller.ErrNotFound) {
				err = fmt.Errorf("%w: an object the identity refers to does not exist; check auth_policy %q", err, in.AuthPolicyID)
			}
			return nil, err
		}
		// Adopt only our own identity holding this very intent: a re-apply
		// after a lost response, not a second declaration elsewhere.
		if !existing.Managed || !identityMatches(existing, in) {
			return nil, fmt.Errorf("creating identity %q: %w (id %s). To manage it with agentmesh, import it: terraform import agentmesh_identity.<name> %s", in.Name, ErrNameTaken, existing.ID, existing.ID)
		}
		e.log.InfoContext(ctx, "adopting an identical agentmesh identity of the same name", "name", in.Name, "id", existing.ID)
		return existing, nil
	}
	id := resp.Payload.Data.ID
	if in.Disabled {
		if err := e.setIdentityDisabled(ctx, id, true); err != nil {
			return nil, e.undoCreate(ctx, id, err)
		}
	}
	// The enrollment JWT is on the first read after create: no wait
	// needed. Parallel creates share that read.
	o, err := e.readCreated(ctx, id)
	if err != nil {
		return nil, e.undoCreate(ctx, id, err)
	}
	return o, nil
}

// undoCreate removes a half-created identity so a failed apply leaves no
// orphan.
func (e *Engine) undoCreate(ctx context.Context, id string, cause error) error {
	if err := e.DeleteIdentity(context.WithoutCancel(ctx), id); err != nil {
		return fmt.Errorf("%w; removing the half-created identity %s also failed: %w", cause, id, err)
	}
	return cause
}

// UpdateIdentity makes the identity match the intent. Reconciler-owned role
// attributes already on the identity are kept. Disabling or renaming an
// identity changes the gateway audiences it is in (a disabled identity is
// served nothing; data-plane services are named after identities), so
// those converge in the same call.
func (e *Engine) UpdateIdentity(ctx context.Context, id string, in *Identity) (*ObservedIdentity, error) {
	o, before, err := e.updateIdentity(ctx, id, in)
	if err != nil || (before.Disabled == in.Disabled && before.Name == in.Name) {
		return o, err
	}
	return o, e.Converge(ctx)
}

func (e *Engine) updateIdentity(ctx context.Context, id string, in *Identity) (*ObservedIdentity, *ObservedIdentity, error) {
	if err := in.Validate(); err != nil {
		return nil, nil, err
	}
	defer e.locks.lock(id)()
	cur, err := e.fetchIdentity(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	patch := &rest_model.IdentityPatch{
		Name:           ptr(in.Name),
		Type:           zitiType(in.Kind),
		RoleAttributes: ptr(desiredRoles(in, cur.Reserved)),
		Tags:           desiredTags(in),
	}
	if in.AuthPolicyID != "" {
		patch.AuthPolicyID = ptr(in.AuthPolicyID)
	} else {
		patch.AuthPolicyID = ptr("default")
	}
	_, err = e.c.API.Identity.PatchIdentity(identity.NewPatchIdentityParamsWithContext(ctx).WithID(id).WithIdentity(patch), nil)
	if err != nil {
		return nil, nil, controller.Explain(err, fmt.Sprintf("updating identity %q (%s)", in.Name, id))
	}
	if cur.Disabled != in.Disabled {
		if err := e.setIdentityDisabled(ctx, id, in.Disabled); err != nil {
			return nil, nil, err
		}
	}
	o, err := e.fetchIdentity(ctx, id)
	return o, cur, err
}

// setIdentityDisabled disables indefinitely or re-enables. Disabling takes
// effect at once: the controller ends the identity's API sessions.
func (e *Engine) setIdentityDisabled(ctx context.Context, id string, disabled bool) error {
	var err error
	if disabled {
		p := identity.NewDisableIdentityParamsWithContext(ctx).WithID(id).WithDisable(&rest_model.DisableParams{DurationMinutes: ptr(int64(0))})
		_, err = e.c.API.Identity.DisableIdentity(p, nil)
	} else {
		_, err = e.c.API.Identity.EnableIdentity(identity.NewEnableIdentityParamsWithContext(ctx).WithID(id), nil)
	}
	if err != nil {
		verb := map[bool]string{true: "disabling", false: "enabling"}[disabled]
		return controller.Explain(err, fmt.Sprintf("%s identity %s", verb, id))
	}
	return nil
}

// DeleteIdentity deletes the identity; deleting one that is gone succeeds.
// A gateway data plane that served it is removed in the same call.
func (e *Engine) DeleteIdentity(ctx context.Context, id string) error {
	_, err := e.c.API.Identity.DeleteIdentity(identity.NewDeleteIdentityParamsWithContext(ctx).WithID(id), nil)
	e.identities.forget(id)
	if err != nil {
		err = controller.Explain(err, fmt.Sprintf("deleting identity %s", id))
		if errors.Is(err, controller.ErrNotFound) {
			return nil
		}
		return err
	}
	if e.servesGateways(ctx) {
		return e.Converge(ctx)
	}
	return nil
}

// quoteFilter quotes a string for the controller's filter language.
func quoteFilter(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
