package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/reconciler"
)

var (
	_ resource.Resource                = (*identityResource)(nil)
	_ resource.ResourceWithConfigure   = (*identityResource)(nil)
	_ resource.ResourceWithImportState = (*identityResource)(nil)
)

// NewIdentityResource is the agentmesh_identity resource.
func NewIdentityResource() resource.Resource { return &identityResource{} }

type identityResource struct{ engine *reconciler.Engine }

type identityModel struct {
	ID                  types.String `tfsdk:"id"`
	Name                types.String `tfsdk:"name"`
	Organization        types.String `tfsdk:"organization"`
	Kind                types.String `tfsdk:"kind"`
	RoleAttributes      types.Set    `tfsdk:"role_attributes"`
	AuthPolicy          types.String `tfsdk:"auth_policy"`
	Disabled            types.Bool   `tfsdk:"disabled"`
	Tags                types.Map    `tfsdk:"tags"`
	EnrollmentJWT       types.String `tfsdk:"enrollment_jwt"`
	KeepJWT             types.Bool   `tfsdk:"keep_enrollment_jwt"`
	EnrollmentExpiresAt types.String `tfsdk:"enrollment_expires_at"`
	Enrolled            types.Bool   `tfsdk:"enrolled"`
	Managed             types.Bool   `tfsdk:"managed"`
}

func (r *identityResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_identity"
}

// Validators shared by the resource and the data source.
var (
	nameValidator         = checkString{"a name of 1-128 letters, digits, spaces and - _ . : @ +", reconciler.ValidateName}
	organizationValidator = checkString{"a lower-case DNS label", reconciler.ValidateOrganization}
	roleAttrValidator     = checkString{"a role attribute without a reserved prefix", reconciler.ValidateRoleAttribute}
	tagKeyValidator       = checkString{"a tag key without the reserved agentmesh_ prefix", reconciler.ValidateTagKey}
)

func (r *identityResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "An agent's (or gateway's, user's, service's) own X.509 identity on the Ziti network.\n\n" +
			"The identity is created with a one-time enrollment token (`enrollment_jwt`); enroll it with " +
			"`ziti edge enroll` or any Ziti SDK to obtain the certificate the agent dials with. " +
			"`organization` becomes the reserved role attribute `org.<organization>`; workgroup memberships " +
			"add `wg.<name>` attributes. Both prefixes are owned by agentmesh and cannot be set in `role_attributes`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The Ziti identity id.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Unique name of the identity on the controller. Renaming updates in place.",
				Validators:          []validator.String{nameValidator},
			},
			"organization": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The organisation the identity belongs to, a lower-case DNS label. Realised as the " +
					"role attribute `org.<organization>`. Changing it replaces the identity: an identity does not move between organisations.",
				Validators:    []validator.String{organizationValidator},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"kind": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(reconciler.KindAgent),
				MarkdownDescription: "One of `agent` (default), `gateway`, `user`, `service`. Changing it replaces the identity.",
				Validators:          []validator.String{stringvalidator.OneOf(reconciler.Kinds...)},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"role_attributes": schema.SetAttribute{
				ElementType: types.StringType,
				Optional:    true,
				Computed:    true,
				Default:     setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
				MarkdownDescription: "Role attributes for Ziti policies (`#attribute`). The prefixes `org.`, `wg.` and " +
					"`agentmesh.` are reserved and rejected at plan time.",
				Validators: []validator.Set{setvalidator.ValueStringsAre(roleAttrValidator)},
			},
			"auth_policy": schema.StringAttribute{
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("default"),
				MarkdownDescription: "Id of the auth policy that governs how the identity may authenticate. Defaults to the controller's `default` policy.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"disabled": schema.BoolAttribute{
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
				MarkdownDescription: "Revoke the identity without deleting it. Takes effect at once: its API sessions end and it can no longer authenticate.",
			},
			"tags": schema.MapAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				Computed:            true,
				Default:             mapdefault.StaticValue(types.MapValueMust(types.StringType, map[string]attr.Value{})),
				MarkdownDescription: "Free-form tags. Keys starting with `agentmesh_` are reserved for ownership tags.",
				Validators:          []validator.Map{mapvalidator.KeysAre(tagKeyValidator)},
			},
			"enrollment_jwt": schema.StringAttribute{
				Computed:  true,
				Sensitive: true,
				MarkdownDescription: "One-time enrollment token, kept in the state (sensitive) while `keep_enrollment_jwt` is true. Empty once the identity has enrolled. " +
					"To keep no secret in the state, set `keep_enrollment_jwt = false` and issue a token with the `agentmesh_enrollment_token` ephemeral resource.",
				PlanModifiers: []planmodifier.String{jwtPlan{}},
			},
			"keep_enrollment_jwt": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Whether `enrollment_jwt` is kept in the state. The default, `true`, keeps configurations that read `enrollment_jwt` working; " +
					"set `false` (recommended) to keep the enrollment secret out of the state and issue tokens with `agentmesh_enrollment_token` instead, " +
					"which can also reissue an expired, unused token without replacing the identity.",
			},
			"enrollment_expires_at": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "When the enrollment token expires (RFC 3339). Empty once enrolled.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"managed": schema.BoolAttribute{
				Computed: true,
				MarkdownDescription: "Whether the identity carries agentmesh's ownership tags. Always `true` after apply; " +
					"an imported identity, or one whose tags were stripped by hand, shows `false` and is tagged by the next apply.",
				PlanModifiers: []planmodifier.Bool{plannedTrue{}},
			},
			"enrolled": schema.BoolAttribute{
				Computed:            true,
				MarkdownDescription: "Whether the identity has enrolled (holds a certificate authenticator).",
				PlanModifiers:       []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *identityResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

// engineFrom takes the engine the provider's Configure built.
func engineFrom(data any, diags *diag.Diagnostics) *reconciler.Engine {
	if data == nil {
		return nil // the provider is not configured yet (validation)
	}
	e, ok := data.(*reconciler.Engine)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *reconciler.Engine, got %T; this is a bug in the provider", data))
	}
	return e
}

func (m *identityModel) intent(ctx context.Context, diags *diag.Diagnostics) *reconciler.Identity {
	in := &reconciler.Identity{
		Name:         m.Name.ValueString(),
		Organization: m.Organization.ValueString(),
		Kind:         m.Kind.ValueString(),
		AuthPolicyID: m.AuthPolicy.ValueString(),
		Disabled:     m.Disabled.ValueBool(),
	}
	diags.Append(m.RoleAttributes.ElementsAs(ctx, &in.RoleAttributes, false)...)
	diags.Append(m.Tags.ElementsAs(ctx, &in.Tags, false)...)
	return in
}

func (m *identityModel) observed(ctx context.Context, o *reconciler.ObservedIdentity, diags *diag.Diagnostics) {
	m.ID = types.StringValue(o.ID)
	m.Name = types.StringValue(o.Name)
	m.Organization = optionalString(o.Organization)
	m.Kind = types.StringValue(o.Kind)
	m.AuthPolicy = types.StringValue(o.AuthPolicyID)
	m.Disabled = types.BoolValue(o.Disabled)
	var d diag.Diagnostics
	m.RoleAttributes, d = types.SetValueFrom(ctx, types.StringType, nonNil(o.RoleAttributes))
	diags.Append(d...)
	m.Tags, d = types.MapValueFrom(ctx, types.StringType, o.Tags)
	diags.Append(d...)
	if m.KeepJWT.IsNull() || m.KeepJWT.IsUnknown() {
		m.KeepJWT = types.BoolValue(true) // an import: the default
	}
	m.EnrollmentJWT = optionalString(o.EnrollmentJWT)
	if !m.KeepJWT.ValueBool() {
		m.EnrollmentJWT = types.StringNull()
	}
	if o.EnrollmentExpiresAt.IsZero() {
		m.EnrollmentExpiresAt = types.StringNull()
	} else {
		m.EnrollmentExpiresAt = types.StringValue(o.EnrollmentExpiresAt.UTC().Format(time.RFC3339))
	}
	m.Enrolled = types.BoolValue(o.Enrolled)
	m.Managed = types.BoolValue(o.Managed)
}

func (r *identityResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan identityModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := plan.intent(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	o, err := r.engine.CreateIdentity(ctx, in)
	if err != nil {
		addError(&resp.Diagnostics, "Cannot create identity "+in.Name, err)
		return
	}
	plan.observed(ctx, o, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *identityResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state identityModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	o, err := r.engine.ObserveIdentity(ctx, state.ID.ValueString())
	if gone(ctx, err, resp) {
		return
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot read identity "+state.ID.ValueString(), err)
		return
	}
	state.observed(ctx, o, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *identityResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state identityModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := plan.intent(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	o, err := r.engine.UpdateIdentity(ctx, state.ID.ValueString(), in)
	if err != nil {
		addError(&resp.Diagnostics, "Cannot update identity "+in.Name, err)
		return
	}
	plan.observed(ctx, o, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *identityResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state identityModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.engine.DeleteIdentity(ctx, state.ID.ValueString()); err != nil {
		addError(&resp.Diagnostics, "Cannot delete identity "+state.Name.ValueString(), err)
	}
}

func (r *identityResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, r.engine, reconciler.ImportIdentity, req, resp)
}

// jwtPlan plans enrollment_jwt: no token at all when keep_enrollment_jwt
// is false, else the state's (the token does not change on its own).
type jwtPlan struct{}

func (jwtPlan) Description(context.Context) string {
	return "null when keep_enrollment_jwt is false, else the prior state"
}
func (p jwtPlan) MarkdownDescription(ctx context.Context) string { return p.Description(ctx) }

func (jwtPlan) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	var keep types.Bool
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("keep_enrollment_jwt"), &keep)...)
	switch {
	case !keep.IsNull() && !keep.IsUnknown() && !keep.ValueBool():
		resp.PlanValue = types.StringNull()
	case !req.StateValue.IsNull() && resp.PlanValue.IsUnknown():
		resp.PlanValue = req.StateValue
	}
}
