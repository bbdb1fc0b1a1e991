package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/reconciler"
)

var (
	_ resource.Resource                = (*membershipResource)(nil)
	_ resource.ResourceWithConfigure   = (*membershipResource)(nil)
	_ resource.ResourceWithImportState = (*membershipResource)(nil)
)

// NewMembershipResource is the agentmesh_workgroup_membership resource.
func NewMembershipResource() resource.Resource { return &membershipResource{} }

type membershipResource struct{ engine *reconciler.Engine }

type membershipModel struct {
	Converged types.Bool   `tfsdk:"converged"`
	ID        types.String `tfsdk:"id"`
	Workgroup types.String `tfsdk:"workgroup"`
	Identity  types.String `tfsdk:"identity"`
	Role      types.String `tfsdk:"role"`
}

func (r *membershipResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_workgroup_membership"
}

func (r *membershipResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Puts one identity into one workgroup. Non-authoritative: each organisation manages its own " +
			"members from its own state. The identity's organisation must be the workgroup's owner or a participant. " +
			"The apply returns once the identity's access has changed on the controller. Removing or demoting the last " +
			"admin of a workgroup that still has members is refused.",
		Attributes: map[string]schema.Attribute{
			"converged": convergedAttribute(),
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "Id of the membership's config on the controller.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"workgroup": schema.StringAttribute{
				Required: true, MarkdownDescription: "Name of the workgroup.",
				Validators:    []validator.String{labelValidator},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"identity": schema.StringAttribute{
				Required: true, MarkdownDescription: "Id of the identity (`agentmesh_identity.<name>.id`).",
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"role": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("member"),
				MarkdownDescription: "`member` (default) or `admin`.",
				Validators:          []validator.String{stringvalidator.OneOf(reconciler.MembershipRoles...)},
			},
		},
	}
}

func (r *membershipResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

func (m *membershipModel) intent() *reconciler.Membership {
	return &reconciler.Membership{Workgroup: m.Workgroup.ValueString(), Identity: m.Identity.ValueString(), Role: m.Role.ValueString()}
}

func (m *membershipModel) observed(s *reconciler.Stored[reconciler.Membership]) {
	m.ID = types.StringValue(s.ID)
	m.Converged = types.BoolValue(true)
	m.Workgroup = types.StringValue(s.Value.Workgroup)
	m.Identity = types.StringValue(s.Value.Identity)
	m.Role = types.StringValue(s.Value.Role)
}

func (m *membershipModel) label() string {
	return fmt.Sprintf("%s in %s", m.Identity.ValueString(), m.Workgroup.ValueString())
}

func (r *membershipResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan membershipModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.CreateMembership(ctx, plan.intent())
	if s != nil {
		plan.observed(s)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot add membership "+plan.label(), err)
	}
}

func (r *membershipResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state membershipModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.ReadMembership(ctx, state.ID.ValueString())
	if gone(ctx, err, resp) {
		return
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot read membership "+state.ID.ValueString(), err)
		return
	}
	state.observed(s)
	state.Converged = converged(ctx, r.engine, "identity/"+s.Value.Identity, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *membershipResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state membershipModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.UpdateMembership(ctx, state.ID.ValueString(), plan.intent())
	if err != nil {
		addError(&resp.Diagnostics, "Cannot update membership "+plan.label(), err)
		return
	}
	plan.observed(s)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *membershipResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state membershipModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.engine.DeleteMembership(ctx, state.ID.ValueString()); err != nil {
		addError(&resp.Diagnostics, "Cannot remove membership "+state.label(), err)
	}
}

func (r *membershipResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, r.engine, reconciler.ImportMembership, req, resp)
}
