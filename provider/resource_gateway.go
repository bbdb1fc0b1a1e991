package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/reconciler"
)

var (
	_ resource.Resource                = (*gatewayResource)(nil)
	_ resource.ResourceWithConfigure   = (*gatewayResource)(nil)
	_ resource.ResourceWithImportState = (*gatewayResource)(nil)
)

// NewGatewayResource is the agentmesh_gateway resource.
func NewGatewayResource() resource.Resource { return &gatewayResource{} }

type gatewayResource struct{ engine *reconciler.Engine }

type gatewayModel struct {
	ID             types.String `tfsdk:"id"`
	Name           types.String `tfsdk:"name"`
	Kind           types.String `tfsdk:"kind"`
	Identity       types.String `tfsdk:"identity"`
	Organization   types.String `tfsdk:"organization"`
	Listen         types.String `tfsdk:"listen"`
	LocalBaseURL   types.String `tfsdk:"local_base_url"`
	ControlService types.String `tfsdk:"control_service"`
}

func (r *gatewayResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_gateway"
}

func (r *gatewayResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Registers a running AI gateway and its agent. agentmesh makes the agent's **dark control service**: " +
			"the gateway's identity binds it and only the identity the provider authenticates as may dial it. Routes " +
			"(`agentmesh_llm_route`) are pushed over it; the agent renders the gateway's YAML, restarts it and reports the " +
			"applied generation. An `llm` gateway listens on loopback only.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "Id of the registration's config.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"name": schema.StringAttribute{Required: true, MarkdownDescription: "Gateway name, a lower-case DNS label.",
				Validators: []validator.String{labelValidator}, PlanModifiers: replace},
			"kind": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(gateways.KindLLM),
				MarkdownDescription: "`llm` (openziti/llm-gateway v0.1.x) or `mcp` (openziti/mcp-gateway v0.1.x; its data plane stays on its own zrok share).",
				Validators:          []validator.String{stringvalidator.OneOf(gateways.KindLLM, gateways.KindMCP)}, PlanModifiers: replace},
			"identity": schema.StringAttribute{Required: true, MarkdownDescription: "Id of the gateway agent's identity (`kind = \"gateway\"`).",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)}, PlanModifiers: replace},
			"organization": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				MarkdownDescription: "Organisation that runs the gateway.", PlanModifiers: replace},
			"listen": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				MarkdownDescription: "For `llm`: the gateway's loopback `host:port`, for example `127.0.0.1:8080` (required).",
				PlanModifiers:       replace},
			"local_base_url": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				MarkdownDescription: "OpenAI-compatible local upstream (for example an Ollama URL) for models that are not `gpt-`/`o1-`/`o3-`/`claude-`.",
				PlanModifiers:       replace},
			"control_service": schema.StringAttribute{Computed: true, MarkdownDescription: "Name of the agent's dark control service.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
		},
	}
}

func (r *gatewayResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

func (m *gatewayModel) observed(s *reconciler.Stored[reconciler.Gateway]) {
	v := s.Value
	m.ID, m.Name, m.Kind, m.Identity = types.StringValue(s.ID), types.StringValue(v.Name), types.StringValue(v.Kind), types.StringValue(v.Identity)
	m.Organization, m.Listen, m.LocalBaseURL = types.StringValue(v.Organization), types.StringValue(v.Listen), types.StringValue(v.LocalBaseURL)
	m.ControlService = types.StringValue(reconciler.ControlService(v.Name))
}

func (r *gatewayResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan gatewayModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.CreateGateway(ctx, &reconciler.Gateway{Name: plan.Name.ValueString(), Kind: plan.Kind.ValueString(),
		Identity: plan.Identity.ValueString(), Organization: plan.Organization.ValueString(), Listen: plan.Listen.ValueString(),
		LocalBaseURL: plan.LocalBaseURL.ValueString()})
	if s != nil {
		plan.observed(s)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot register gateway "+plan.Name.ValueString(), err)
	}
}

func (r *gatewayResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state gatewayModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.ReadGateway(ctx, state.ID.ValueString())
	if gone(ctx, err, resp) {
		return
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot read gateway "+state.ID.ValueString(), err)
		return
	}
	state.observed(s)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update is never called: every attribute forces replacement.
func (r *gatewayResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.Diagnostics.AddError("Gateway cannot change in place", "Every attribute of agentmesh_gateway forces replacement; this is a provider bug.")
}

func (r *gatewayResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state gatewayModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.engine.DeleteGateway(ctx, state.ID.ValueString()); err != nil {
		addError(&resp.Diagnostics, "Cannot delete gateway "+state.Name.ValueString(), err)
	}
}

func (r *gatewayResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
