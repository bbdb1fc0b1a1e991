package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/reconciler"
)

var (
	_ resource.Resource                = (*workgroupResource)(nil)
	_ resource.ResourceWithConfigure   = (*workgroupResource)(nil)
	_ resource.ResourceWithImportState = (*workgroupResource)(nil)
)

// NewWorkgroupResource is the agentmesh_workgroup resource.
func NewWorkgroupResource() resource.Resource { return &workgroupResource{} }

type workgroupResource struct{ engine *reconciler.Engine }

type workgroupModel struct {
	ID                         types.String `tfsdk:"id"`
	Name                       types.String `tfsdk:"name"`
	Description                types.String `tfsdk:"description"`
	OwnerOrganization          types.String `tfsdk:"owner_organization"`
	ParticipatingOrganizations types.Set    `tfsdk:"participating_organizations"`
	Role                       types.String `tfsdk:"role"`
}

var labelValidator = checkString{"a lower-case DNS label", reconciler.ValidateWorkgroupName}

func (r *workgroupResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_workgroup"
}

func (r *workgroupResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A workgroup decides who can see whom. Its members (see `agentmesh_workgroup_membership`) hold the " +
			"role attribute `wg.<name>`, and an endpoint scoped to the workgroup is dialable by those members only: " +
			"outside every scope, an identity cannot dial an endpoint and does not even see it listed. " +
			"Stored on the controller as a config of type `agentmesh.workgroup.v1`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "Id of the workgroup's config on the controller.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Unique name on the network, a lower-case DNS label. Changing it replaces the workgroup (its role changes everywhere).",
				Validators:          []validator.String{labelValidator},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"description": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				MarkdownDescription: "What the workgroup is for.",
			},
			"owner_organization": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The organisation that owns the workgroup. Changing it replaces the workgroup.",
				Validators:          []validator.String{labelValidator},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"participating_organizations": schema.SetAttribute{
				ElementType: types.StringType, Optional: true, Computed: true,
				Default:             setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
				MarkdownDescription: "Other organisations whose identities may join. Empty means an intra-org workgroup. Removing an organisation revokes what its members were granted, in the same apply.",
				Validators:          []validator.Set{setvalidator.ValueStringsAre(labelValidator)},
			},
			"role": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The Ziti role the workgroup realises, `#wg.<name>`, for use in your own policies.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *workgroupResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

func (m *workgroupModel) intent(ctx context.Context, diags *diag.Diagnostics) *reconciler.Workgroup {
	w := &reconciler.Workgroup{Name: m.Name.ValueString(), Description: m.Description.ValueString(), OwnerOrganization: m.OwnerOrganization.ValueString()}
	diags.Append(m.ParticipatingOrganizations.ElementsAs(ctx, &w.ParticipatingOrganizations, false)...)
	return w
}

func (m *workgroupModel) observed(ctx context.Context, s *reconciler.Stored[reconciler.Workgroup], diags *diag.Diagnostics) {
	m.ID = types.StringValue(s.ID)
	m.Name = types.StringValue(s.Value.Name)
	m.Description = types.StringValue(s.Value.Description)
	m.OwnerOrganization = types.StringValue(s.Value.OwnerOrganization)
	m.ParticipatingOrganizations = stringSet(ctx, s.Value.ParticipatingOrganizations, diags)
	m.Role = types.StringValue("#wg." + s.Value.Name)
}

func (r *workgroupResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan workgroupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := plan.intent(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.CreateWorkgroup(ctx, in)
	if s != nil {
		plan.observed(ctx, s, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot create workgroup "+in.Name, err)
	}
}

func (r *workgroupResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state workgroupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.ReadWorkgroup(ctx, state.ID.ValueString())
	if gone(ctx, err, resp) {
		return
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot read workgroup "+state.ID.ValueString(), err)
		return
	}
	state.observed(ctx, s, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *workgroupResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state workgroupModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := plan.intent(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.UpdateWorkgroup(ctx, state.ID.ValueString(), in)
	if err != nil {
		addError(&resp.Diagnostics, "Cannot update workgroup "+in.Name, err)
		return
	}
	plan.observed(ctx, s, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *workgroupResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state workgroupModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.engine.DeleteWorkgroup(ctx, state.ID.ValueString()); err != nil {
		addError(&resp.Diagnostics, "Cannot delete workgroup "+state.Name.ValueString(), err)
	}
}

func (r *workgroupResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, r.engine, reconciler.ImportWorkgroup, req, resp)
}
