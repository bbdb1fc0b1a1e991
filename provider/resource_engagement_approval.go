package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/reconciler"
)

var (
	_ resource.Resource                = (*approvalResource)(nil)
	_ resource.ResourceWithConfigure   = (*approvalResource)(nil)
	_ resource.ResourceWithImportState = (*approvalResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*approvalResource)(nil)
)

// NewApprovalResource is the agentmesh_engagement_approval resource.
func NewApprovalResource() resource.Resource { return &approvalResource{} }

type approvalResource struct{ engine *reconciler.Engine }

type approvalModel struct {
	Converged    types.Bool   `tfsdk:"converged"`
	ID           types.String `tfsdk:"id"`
	Endpoint     types.String `tfsdk:"endpoint"`
	Consumer     types.String `tfsdk:"consumer"`
	Organization types.String `tfsdk:"organization"`
	ExpiresAt    types.String `tfsdk:"expires_at"`
	Active       types.Bool   `tfsdk:"active"`
}

var expiryValidator = checkString{"an RFC 3339 time", func(s string) error {
	_, err := (&reconciler.Approval{ExpiresAt: s}).Expiry()
	return err
}}

func (r *approvalResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_engagement_approval"
}

func (r *approvalResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lets one consumer identity reach one endpoint whose contract has `access_mode = \"approval_required\"`. " +
			"Under such a contract only approved consumers can list and dial the endpoint, and only while they are also in one of " +
			"its workgroups and in every workgroup the contract requires. An active approval gives the consumer the reserved role " +
			"`agentmesh.approved.<endpoint id>`, and the endpoint's AllOf Dial policies require it next to `#wg.<scope>` and every " +
			"`#wg.<required>`, so the controller enforces all three. Unapproved members do not see the endpoint at all.\n\n" +
			"An approval is granted by the organisation that owns the endpoint (its host identity's): `organization` must be that " +
			"organisation, and another organisation's approval is refused. When `expires_at` passes, the approval grants nothing: " +
			"`agentmesh reconcile --watch` removes the consumer's role within one interval, and until then the plan shows the approval as " +
			"drift (`converged: false -> true`), which the next apply repairs. The apply returns once the consumer's access has " +
			"changed on the controller.",
		Attributes: map[string]schema.Attribute{
			"converged": convergedAttribute(),
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "Id of the approval's config on the controller.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"endpoint": schema.StringAttribute{
				Required: true, MarkdownDescription: "Id of the endpoint (`agentmesh_endpoint.<name>.id`).",
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"consumer": schema.StringAttribute{
				Required: true, MarkdownDescription: "Id of the approved identity (`agentmesh_identity.<name>.id`).",
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"organization": schema.StringAttribute{
				Required: true, MarkdownDescription: "The approving organisation: the organisation of the endpoint's host identity.",
				Validators:    []validator.String{labelValidator},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"expires_at": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "When the approval lapses, in RFC 3339 (`2027-01-31T18:00:00Z`). A new or changed expiry must lie " +
					"in the future. Unset: the approval lasts until it is removed.",
				Validators: []validator.String{expiryValidator},
			},
			"active": schema.BoolAttribute{
				Computed:            true,
				MarkdownDescription: "`false` once `expires_at` has passed: the approval then grants nothing.",
			},
		},
	}
}

func (r *approvalResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

func (m *approvalModel) intent() *reconciler.Approval {
	return &reconciler.Approval{Endpoint: m.Endpoint.ValueString(), Consumer: m.Consumer.ValueString(),
		Organization: m.Organization.ValueString(), ExpiresAt: m.ExpiresAt.ValueString()}
}

func (m *approvalModel) observed(s *reconciler.Stored[reconciler.Approval]) {
	m.ID = types.StringValue(s.ID)
	m.Converged = types.BoolValue(true)
	m.Endpoint = types.StringValue(s.Value.Endpoint)
	m.Consumer = types.StringValue(s.Value.Consumer)
	m.Organization = types.StringValue(s.Value.Organization)
	m.ExpiresAt = types.StringNull()
	if s.Value.ExpiresAt != "" {
		m.ExpiresAt = types.StringValue(s.Value.ExpiresAt)
	}
	m.Active = types.BoolValue(s.Value.ActiveAt(time.Now()))
}

// keepPlanned keeps the planned `active` through an apply during which
// the approval lapses: the plan said it, and the next refresh corrects it.
func (m *approvalModel) keepPlanned(active types.Bool) {
	if !active.IsUnknown() && !active.IsNull() {
		m.Active = active
	}
}

func (m *approvalModel) label() string {
	return m.Consumer.ValueString() + " for endpoint " + m.Endpoint.ValueString()
}

// ModifyPlan refuses at plan time what the apply would refuse (an expiry
// that is not ahead, an endpoint owned by another organisation, a missing
// endpoint or consumer), warns about an approval under an open contract
// and about one that has lapsed, and plans `active`.
func (r *approvalResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.engine == nil {
		return
	}
	var plan approvalModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || plan.ExpiresAt.IsUnknown() {
		return
	}
	var state *approvalModel
	if !req.State.Raw.IsNull() {
		state = &approvalModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	now := time.Now()
	in := plan.intent()
	if state == nil || !state.ExpiresAt.Equal(plan.ExpiresAt) {
		if err := reconciler.ValidateNewExpiry(in.ExpiresAt, now); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("expires_at"), "Approval expiry in the past", err.Error()+". Set a later expires_at, or leave it unset.")
			return
		}
	} else if !in.ActiveAt(now) {
		resp.Diagnostics.AddAttributeWarning(path.Root("expires_at"), "Approval of "+plan.label()+" has lapsed",
			"It lapsed at "+in.ExpiresAt+" and grants nothing any more. Set a later expires_at to renew it, or remove the approval.")
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("active"), in.ActiveAt(now))...)
	if plan.Endpoint.IsUnknown() || plan.Consumer.IsUnknown() || plan.Organization.IsUnknown() {
		return
	}
	warning, err := r.engine.CheckApproval(ctx, in)
	if err != nil {
		addError(&resp.Diagnostics, "Cannot approve "+plan.label(), err)
		return
	}
	if warning != "" {
		resp.Diagnostics.AddAttributeWarning(path.Root("endpoint"), "Approval changes nothing", warning)
	}
}

func (r *approvalResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan approvalModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.CreateApproval(ctx, plan.intent())
	if s != nil {
		planned := plan.Active
		plan.observed(s)
		plan.keepPlanned(planned)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot approve "+plan.label(), err)
	}
}

func (r *approvalResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state approvalModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.ReadApproval(ctx, state.ID.ValueString())
	if gone(ctx, err, resp) {
		return
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot read approval "+state.ID.ValueString(), err)
		return
	}
	state.observed(s)
	// The approval's derived object is its consumer's approval role.
	state.Converged = converged(ctx, r.engine, "identity/"+s.Value.Consumer, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *approvalResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state approvalModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.UpdateApproval(ctx, state.ID.ValueString(), plan.intent())
	if err != nil {
		addError(&resp.Diagnostics, "Cannot update approval of "+plan.label(), err)
		return
	}
	planned := plan.Active
	plan.observed(s)
	plan.keepPlanned(planned)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *approvalResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state approvalModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.engine.DeleteApproval(ctx, state.ID.ValueString()); err != nil {
		addError(&resp.Diagnostics, "Cannot withdraw approval of "+state.label(), err)
	}
}

func (r *approvalResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, r.engine, reconciler.ImportApproval, req, resp)
}
