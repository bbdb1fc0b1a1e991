package provider

import (
	"context"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/reconciler"
)

var (
	_ resource.Resource                = (*contractResource)(nil)
	_ resource.ResourceWithConfigure   = (*contractResource)(nil)
	_ resource.ResourceWithImportState = (*contractResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*contractResource)(nil)
)

// NewContractResource is the agentmesh_contract resource.
func NewContractResource() resource.Resource { return &contractResource{} }

type contractResource struct{ engine *reconciler.Engine }

type contractModel struct {
	ID                  types.String `tfsdk:"id"`
	Name                types.String `tfsdk:"name"`
	OwnerOrganization   types.String `tfsdk:"owner_organization"`
	Description         types.String `tfsdk:"description"`
	MaxDurationSeconds  types.Int64  `tfsdk:"max_duration_seconds"`
	MaxMessageCount     types.Int64  `tfsdk:"max_message_count"`
	MaxMessageBytes     types.Int64  `tfsdk:"max_message_bytes"`
	AllowedMessageTypes types.Set    `tfsdk:"allowed_message_types"`
	RequiredWorkgroups  types.Set    `tfsdk:"required_workgroups"`
	AccessMode          types.String `tfsdk:"access_mode"`
}

func (r *contractResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_contract"
}

func limitAttr(what string) schema.Int64Attribute {
	return schema.Int64Attribute{
		Optional: true, Computed: true, Default: int64default.StaticInt64(0),
		MarkdownDescription: what + " `0` (default) means no cap. Enforced only by `agentmesh endpoint-guard`, on endpoints with `hosting = \"guarded\"`.",
		Validators:          []validator.Int64{int64validator.AtLeast(0)},
	}
}

func (r *contractResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "An engagement contract: the terms of sessions with the endpoints that use it. " +
			"Stored as a config of type `agentmesh.contract.v1`, whose JSON schema makes the controller itself reject " +
			"malformed terms. Every identity allowed to dial or host an endpoint receives these terms with the service, through " +
			"the normal SDK service listing. A contract an endpoint still uses cannot be deleted.\n\n" +
			"What enforces each term, and how fast:\n\n" +
			"| term | enforced by | when |\n|---|---|---|\n" +
			"| `required_workgroups` | the network: every Dial policy of the endpoint requires each `#wg.<name>` | in the apply that changes it |\n" +
			"| `access_mode = \"approval_required\"` | the network: only consumers with an `agentmesh_engagement_approval` hold the role the Dial policies require | in the apply; a lapsed approval within one `agentmesh reconcile --watch` interval |\n" +
			"| `max_message_bytes`, `max_message_count`, `allowed_message_types` | `agentmesh endpoint-guard` on endpoints with `hosting = \"guarded\"` | the violating message is refused and the session closed at once |\n" +
			"| `max_duration_seconds` | `agentmesh endpoint-guard` on endpoints with `hosting = \"guarded\"` | the session is closed at the cap (measured here: 3 ms past the cap) |\n\n" +
			"On endpoints with `hosting = \"direct\"` the last four are **not enforced**: the contract's plan warns which endpoints leave which " +
			"terms unenforced, and so does the apply that creates such an endpoint. " +
			"Deleting a Ziti circuit from the controller does not close the connection with ziti v1.6 and sdk-golang v1.5 (observed here), " +
			"so the network alone cannot end a session at its duration.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "Id of the contract's config on the controller.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required: true, MarkdownDescription: "Unique name, a lower-case DNS label. Changing it replaces the contract.",
				Validators:    []validator.String{labelValidator},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"owner_organization": schema.StringAttribute{
				Required: true, MarkdownDescription: "The organisation that owns the contract.",
				Validators:    []validator.String{labelValidator},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"description": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				MarkdownDescription: "What the contract is for.",
			},
			"max_duration_seconds": limitAttr("Longest session, in seconds."),
			"max_message_count":    limitAttr("Most messages in one session."),
			"max_message_bytes":    limitAttr("Largest message, in bytes."),
			"allowed_message_types": schema.SetAttribute{
				ElementType: types.StringType, Required: true,
				MarkdownDescription: "Message types allowed in a session (the `type` of each newline-delimited JSON message). `[\"*\"]` allows all; an empty set allows none. Enforced only by `agentmesh endpoint-guard`, on endpoints with `hosting = \"guarded\"`.",
				Validators:          []validator.Set{setvalidator.ValueStringsAre(checkString{"`*` or a message type name", reconciler.ValidateMessageType})},
			},
			"required_workgroups": schema.SetAttribute{
				ElementType: types.StringType, Optional: true, Computed: true,
				Default:             setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
				MarkdownDescription: "Workgroups a dialer must belong to, all of them, in addition to the endpoint's scope.",
				Validators:          []validator.Set{setvalidator.ValueStringsAre(labelValidator)},
			},
			"access_mode": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("open"),
				MarkdownDescription: "`open` (default): every member of the endpoint's workgroups (and of `required_workgroups`) may dial it. " +
					"`approval_required`: only those of them with an `agentmesh_engagement_approval` for the endpoint. Switching re-derives every endpoint under the contract in the same apply.",
				Validators: []validator.String{stringvalidator.OneOf(reconciler.AccessModes...)},
			},
		},
	}
}

func (r *contractResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

func (m *contractModel) intent(ctx context.Context, diags *diag.Diagnostics) *reconciler.Contract {
	c := &reconciler.Contract{
		Name: m.Name.ValueString(), OwnerOrganization: m.OwnerOrganization.ValueString(), Description: m.Description.ValueString(),
		MaxDurationSeconds: m.MaxDurationSeconds.ValueInt64(), MaxMessageCount: m.MaxMessageCount.ValueInt64(),
		MaxMessageBytes: m.MaxMessageBytes.ValueInt64(), AccessMode: m.AccessMode.ValueString(),
	}
	diags.Append(m.AllowedMessageTypes.ElementsAs(ctx, &c.AllowedMessageTypes, false)...)
	diags.Append(m.RequiredWorkgroups.ElementsAs(ctx, &c.RequiredWorkgroups, false)...)
	return c
}

func (m *contractModel) observed(ctx context.Context, s *reconciler.Stored[reconciler.Contract], diags *diag.Diagnostics) {
	v := s.Value
	m.ID = types.StringValue(s.ID)
	m.Name = types.StringValue(v.Name)
	m.OwnerOrganization = types.StringValue(v.OwnerOrganization)
	m.Description = types.StringValue(v.Description)
	m.MaxDurationSeconds = types.Int64Value(v.MaxDurationSeconds)
	m.MaxMessageCount = types.Int64Value(v.MaxMessageCount)
	m.MaxMessageBytes = types.Int64Value(v.MaxMessageBytes)
	m.AllowedMessageTypes = stringSet(ctx, v.AllowedMessageTypes, diags)
	m.RequiredWorkgroups = stringSet(ctx, v.RequiredWorkgroups, diags)
	m.AccessMode = types.StringValue(v.AccessMode)
}

func (r *contractResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan contractModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := plan.intent(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.CreateContract(ctx, in)
	if err != nil {
		addError(&resp.Diagnostics, "Cannot create contract "+in.Name, err)
		return
	}
	plan.observed(ctx, s, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *contractResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state contractModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.ReadContract(ctx, state.ID.ValueString())
	if gone(ctx, err, resp) {
		return
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot read contract "+state.ID.ValueString(), err)
		return
	}
	state.observed(ctx, s, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *contractResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state contractModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := plan.intent(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.UpdateContract(ctx, state.ID.ValueString(), in)
	if err != nil {
		addError(&resp.Diagnostics, "Cannot update contract "+in.Name, err)
		return
	}
	plan.observed(ctx, s, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *contractResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state contractModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.engine.DeleteContract(ctx, state.ID.ValueString()); err != nil {
		addError(&resp.Diagnostics, "Cannot delete contract "+state.Name.ValueString(), err)
	}
}

func (r *contractResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, r.engine, reconciler.ImportContract, req, resp)
}

// ModifyPlan warns which endpoints under the contract leave which of its
// planned session terms unenforced.
func (r *contractResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || req.State.Raw.IsNull() || r.engine == nil {
		return
	}
	var plan contractModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c := plan.intent(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() || plan.Name.IsUnknown() || plan.AllowedMessageTypes.IsUnknown() {
		return
	}
	where, err := r.engine.UnenforcedOn(ctx, c)
	if err != nil {
		addError(&resp.Diagnostics, "Cannot check which endpoints enforce contract "+c.Name, err)
		return
	}
	if len(where) > 0 {
		resp.Diagnostics.AddWarning("Contract "+c.Name+" has terms nothing enforces",
			"These endpoints are hosted directly (hosting = \"direct\"), so these terms are not enforced on them:\n  "+strings.Join(where, "\n  ")+
				"\nRun agentmesh endpoint-guard on their hosts and set hosting = \"guarded\", or drop the terms.")
	}
}
