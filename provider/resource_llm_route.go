package provider

import (
	"context"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/reconciler"
)

var (
	_ resource.Resource                = (*llmRouteResource)(nil)
	_ resource.ResourceWithConfigure   = (*llmRouteResource)(nil)
	_ resource.ResourceWithImportState = (*llmRouteResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*llmRouteResource)(nil)
)

// ModifyPlan refuses at plan time a model the target gateway cannot serve.
func (r *llmRouteResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.engine == nil {
		return
	}
	var plan llmRouteModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || plan.Gateway.IsUnknown() || plan.Model.IsUnknown() {
		return
	}
	if err := r.engine.CheckLLMRoute(ctx, plan.Gateway.ValueString(), plan.Model.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("model"), "Model not servable by gateway "+plan.Gateway.ValueString(), err.Error())
	}
	if plan.Workgroups.IsUnknown() || plan.Identities.IsUnknown() {
		return
	}
	in := plan.intent(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	warnings, err := r.engine.RouteWarnings(ctx, in)
	if err != nil {
		addError(&resp.Diagnostics, "Cannot check the audience of route "+plan.Name.ValueString(), err)
		return
	}
	for _, w := range warnings {
		resp.Diagnostics.AddAttributeWarning(path.Root("workgroups"), "Route "+plan.Name.ValueString()+" serves less than it names",
			w+". Add the organisation to the workgroup's participating_organizations, or change the route's audience.")
	}
}

// NewLLMRouteResource is the agentmesh_llm_route resource.
func NewLLMRouteResource() resource.Resource { return &llmRouteResource{} }

type llmRouteResource struct{ engine *reconciler.Engine }

type llmRouteModel struct {
	ID                types.String `tfsdk:"id"`
	Gateway           types.String `tfsdk:"gateway"`
	Name              types.String `tfsdk:"name"`
	Model             types.String `tfsdk:"model"`
	Description       types.String `tfsdk:"description"`
	Examples          types.List   `tfsdk:"examples"`
	Workgroups        types.Set    `tfsdk:"workgroups"`
	Identities        types.Set    `tfsdk:"identities"`
	BudgetTokens      types.Int64  `tfsdk:"budget_tokens"`
	BudgetPeriod      types.String `tfsdk:"budget_period"`
	Heuristics        types.List   `tfsdk:"heuristics"`
	AppliedGeneration types.Int64  `tfsdk:"applied_generation"`
	ConfigSHA256      types.String `tfsdk:"config_sha256"`
}

// heuristicModel is one keyword rule.
type heuristicModel struct {
	Keywords []string `tfsdk:"keywords"`
	Exclude  []string `tfsdk:"exclude"`
}

var heuristicType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"keywords": types.ListType{ElemType: types.StringType}, "exclude": types.ListType{ElemType: types.StringType},
}}

func (r *llmRouteResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_llm_route"
}

func (r *llmRouteResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A route of an LLM gateway and who may use it. Each audience identity (members of `workgroups`, " +
			"and `identities`) gets its own dark data-plane service to the gateway, so the network proves who is calling; " +
			"the agent injects that identity's virtual key (agents never hold API keys), refuses models outside its routes " +
			"and enforces `budget_tokens` per identity and period with HTTP 429. The apply returns once the running gateway " +
			"reports the new configuration applied, or fails with the agent's error.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "Id of the route's config.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"gateway": schema.StringAttribute{Required: true, MarkdownDescription: "Name of the `agentmesh_gateway`.",
				Validators: []validator.String{labelValidator}, PlanModifiers: replace},
			"name": schema.StringAttribute{Required: true, MarkdownDescription: "Route name, a lower-case DNS label.",
				Validators: []validator.String{labelValidator}, PlanModifiers: replace},
			"model": schema.StringAttribute{Required: true, MarkdownDescription: "Model served by the route. llm-gateway sends `gpt-`, `o1-`, `o3-` to OpenAI, `claude-` to Anthropic and anything else to the local provider.",
				Validators: []validator.String{nameValidator}},
			"description": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				MarkdownDescription: "Semantic-routing description."},
			"examples": schema.ListAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default: listdefault.StaticValue(types.ListValueMust(types.StringType, nil)), MarkdownDescription: "Semantic-routing examples."},
			"workgroups": schema.SetAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default:             setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
				MarkdownDescription: "Workgroups whose members may use the route.", Validators: []validator.Set{setvalidator.ValueStringsAre(labelValidator)}},
			"identities": schema.SetAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default:             setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
				MarkdownDescription: "Ids of further identities that may use the route."},
			"budget_tokens": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(0),
				MarkdownDescription: "Tokens each identity may spend per `budget_period`; `0` = no budget. Enforced by the agentmesh front (the gateway has none).",
				Validators:          []validator.Int64{int64validator.AtLeast(0)}},
			"budget_period": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("day"),
				MarkdownDescription: "`hour`, `day` (default) or `month`.", Validators: []validator.String{stringvalidator.OneOf("hour", "day", "month")}},
			"heuristics": schema.ListNestedAttribute{Optional: true, Computed: true,
				Default: listdefault.StaticValue(types.ListValueMust(heuristicType, nil)),
				MarkdownDescription: "Keyword rules for requests with model `auto`: a request whose messages hold any keyword and none of the " +
					"`exclude` words goes to this route (llm-gateway tries heuristics before semantic routing).",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"keywords": schema.ListAttribute{ElementType: types.StringType, Required: true, MarkdownDescription: "Words that select the route (case-insensitive).",
						Validators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ValueStringsAre(nameValidator)}},
					"exclude": schema.ListAttribute{ElementType: types.StringType, Optional: true, MarkdownDescription: "Words that keep a request off the route.",
						Validators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ValueStringsAre(nameValidator)}},
				}}},
			"applied_generation": schema.Int64Attribute{Computed: true, MarkdownDescription: "Generation the gateway reported applied."},
			"config_sha256":      schema.StringAttribute{Computed: true, MarkdownDescription: "Hash of the configuration the gateway runs."},
		},
	}
}

func (r *llmRouteResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

func (m *llmRouteModel) intent(ctx context.Context, diags *diag.Diagnostics) *reconciler.LLMRoute {
	in := &reconciler.LLMRoute{Gateway: m.Gateway.ValueString(), Name: m.Name.ValueString(), Model: m.Model.ValueString(),
		Description: m.Description.ValueString(), BudgetTokens: m.BudgetTokens.ValueInt64(), BudgetPeriod: m.BudgetPeriod.ValueString()}
	diags.Append(m.Examples.ElementsAs(ctx, &in.Examples, false)...)
	diags.Append(m.Workgroups.ElementsAs(ctx, &in.Workgroups, false)...)
	diags.Append(m.Identities.ElementsAs(ctx, &in.Identities, false)...)
	var rules []heuristicModel
	diags.Append(m.Heuristics.ElementsAs(ctx, &rules, false)...)
	for _, h := range rules {
		in.Heuristics = append(in.Heuristics, reconciler.Heuristic{Keywords: h.Keywords, Exclude: h.Exclude})
	}
	return in
}

func (m *llmRouteModel) observed(ctx context.Context, s *reconciler.Stored[reconciler.LLMRoute], rep *gateways.Report, diags *diag.Diagnostics) {
	v := s.Value
	m.ID, m.Gateway, m.Name, m.Model = types.StringValue(s.ID), types.StringValue(v.Gateway), types.StringValue(v.Name), types.StringValue(v.Model)
	m.Description, m.BudgetTokens = types.StringValue(v.Description), types.Int64Value(v.BudgetTokens)
	m.BudgetPeriod = types.StringValue(v.BudgetPeriod)
	var d diag.Diagnostics
	m.Examples, d = types.ListValueFrom(ctx, types.StringType, nonNil(v.Examples))
	diags.Append(d...)
	m.Workgroups = stringSet(ctx, v.Workgroups, diags)
	m.Identities = stringSet(ctx, v.Identities, diags)
	rules := []heuristicModel{}
	for _, h := range v.Heuristics {
		rules = append(rules, heuristicModel{Keywords: h.Keywords, Exclude: h.Exclude})
	}
	m.Heuristics, d = types.ListValueFrom(ctx, heuristicType, rules)
	diags.Append(d...)
	if rep != nil {
		m.AppliedGeneration, m.ConfigSHA256 = types.Int64Value(rep.Generation), types.StringValue(rep.ConfigSHA256)
	}
}

func (r *llmRouteResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan llmRouteModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := plan.intent(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	s, rep, err := r.engine.CreateLLMRoute(ctx, in)
	if s != nil {
		plan.observed(ctx, s, &rep, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err != nil {
		addError(&resp.Diagnostics, "Route "+in.Name+" is not applied on gateway "+in.Gateway, err)
	}
}

func (r *llmRouteResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state llmRouteModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.ReadLLMRoute(ctx, state.ID.ValueString())
	if gone(ctx, err, resp) {
		return
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot read route "+state.ID.ValueString(), err)
		return
	}
	state.observed(ctx, s, nil, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *llmRouteResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state llmRouteModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := plan.intent(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	s, rep, err := r.engine.UpdateLLMRoute(ctx, state.ID.ValueString(), in)
	if err != nil {
		addError(&resp.Diagnostics, "Route "+in.Name+" is not applied on gateway "+in.Gateway, err)
		return
	}
	plan.observed(ctx, s, &rep, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *llmRouteResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state llmRouteModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.engine.DeleteLLMRoute(ctx, state.ID.ValueString())
	switch {
	case errors.Is(err, reconciler.ErrGatewayDown):
		// The route is gone from the controller; the gateway learns it on
		// the next push, which `agentmesh reconcile` makes.
		resp.Diagnostics.AddWarning("Route deleted; gateway not told yet", err.Error())
	case err != nil:
		addError(&resp.Diagnostics, "Cannot delete route "+state.Name.ValueString(), err)
	}
}

func (r *llmRouteResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, r.engine, reconciler.ImportLLMRoute, req, resp)
}
