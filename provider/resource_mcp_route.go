package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/reconciler"
)

var (
	_ resource.Resource                = (*mcpRouteResource)(nil)
	_ resource.ResourceWithConfigure   = (*mcpRouteResource)(nil)
	_ resource.ResourceWithImportState = (*mcpRouteResource)(nil)
)

// NewMCPRouteResource is the agentmesh_mcp_route resource.
func NewMCPRouteResource() resource.Resource { return &mcpRouteResource{} }

type mcpRouteResource struct{ engine *reconciler.Engine }

type mcpRouteModel struct {
	ID                types.String `tfsdk:"id"`
	Gateway           types.String `tfsdk:"gateway"`
	Namespace         types.String `tfsdk:"namespace"`
	Type              types.String `tfsdk:"type"`
	Command           types.String `tfsdk:"command"`
	Args              types.List   `tfsdk:"args"`
	Endpoint          types.String `tfsdk:"endpoint"`
	Protocol          types.String `tfsdk:"protocol"`
	ToolsMode         types.String `tfsdk:"tools_mode"`
	Tools             types.List   `tfsdk:"tools"`
	Workgroups        types.Set    `tfsdk:"workgroups"`
	Identities        types.Set    `tfsdk:"identities"`
	AppliedGeneration types.Int64  `tfsdk:"applied_generation"`
	ConfigSHA256      types.String `tfsdk:"config_sha256"`
}

func (r *mcpRouteResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_mcp_route"
}

func (r *mcpRouteResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	optString := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), MarkdownDescription: desc, PlanModifiers: replace}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "One MCP backend of an `mcp` gateway, exposed as `<namespace>_<tool>`. mcp-gateway filters tools per " +
			"backend, not per client: routes with different audiences on one gateway are refused (use one gateway per audience), " +
			"and so is a filter that would deny every tool. The apply returns once the running gateway reports it applied. " +
			"The MCP data plane stays on the gateway's own zrok share. Every change replaces the route.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "Id of the route's config.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"gateway": schema.StringAttribute{Required: true, MarkdownDescription: "Name of the `mcp` gateway.",
				Validators: []validator.String{labelValidator}, PlanModifiers: replace},
			"namespace": schema.StringAttribute{Required: true, MarkdownDescription: "Backend id; tools appear as `<namespace>_<tool>`.",
				Validators: []validator.String{labelValidator}, PlanModifiers: replace},
			"type": schema.StringAttribute{Required: true, MarkdownDescription: "`stdio`, `http`, `https` or `zrok`.",
				Validators: []validator.String{stringvalidator.OneOf("stdio", "http", "https", "zrok")}, PlanModifiers: replace},
			"command":  optString("stdio: the command to run."),
			"endpoint": optString("http/https: the backend URL."),
			"protocol": optString("http/https: `sse` or `streamable`."),
			"args": schema.ListAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default: listdefault.StaticValue(types.ListValueMust(types.StringType, nil)), MarkdownDescription: "stdio: arguments.",
				PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()}},
			"tools_mode": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("allow"),
				MarkdownDescription: "`allow` (default) or `deny`.", Validators: []validator.String{stringvalidator.OneOf("allow", "deny")}, PlanModifiers: replace},
			"tools": schema.ListAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default: listdefault.StaticValue(types.ListValueMust(types.StringType, nil)), MarkdownDescription: "Tool name patterns (path.Match).",
				PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()}},
			"workgroups": schema.SetAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default: setdefault.StaticValue(types.SetValueMust(types.StringType, nil)), MarkdownDescription: "Audience: workgroups.",
				PlanModifiers: []planmodifier.Set{setplanmodifier.RequiresReplace()}},
			"identities": schema.SetAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default: setdefault.StaticValue(types.SetValueMust(types.StringType, nil)), MarkdownDescription: "Audience: identity ids.",
				PlanModifiers: []planmodifier.Set{setplanmodifier.RequiresReplace()}},
			"applied_generation": schema.Int64Attribute{Computed: true, MarkdownDescription: "Generation the gateway reported applied."},
			"config_sha256":      schema.StringAttribute{Computed: true, MarkdownDescription: "Hash of the configuration the gateway runs."},
		},
	}
}

func (r *mcpRouteResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

func (m *mcpRouteModel) intent(ctx context.Context, diags *diag.Diagnostics) *reconciler.MCPRoute {
	in := &reconciler.MCPRoute{Gateway: m.Gateway.ValueString(), Namespace: m.Namespace.ValueString(), Type: m.Type.ValueString(),
		Command: m.Command.ValueString(), Endpoint: m.Endpoint.ValueString(), Protocol: m.Protocol.ValueString(), ToolsMode: m.ToolsMode.ValueString()}
	diags.Append(m.Args.ElementsAs(ctx, &in.Args, false)...)
	diags.Append(m.Tools.ElementsAs(ctx, &in.Tools, false)...)
	diags.Append(m.Workgroups.ElementsAs(ctx, &in.Workgroups, false)...)
	diags.Append(m.Identities.ElementsAs(ctx, &in.Identities, false)...)
	return in
}

func (m *mcpRouteModel) observed(ctx context.Context, s *reconciler.Stored[reconciler.MCPRoute], rep *gateways.Report, diags *diag.Diagnostics) {
	v := s.Value
	m.ID, m.Gateway, m.Namespace, m.Type = types.StringValue(s.ID), types.StringValue(v.Gateway), types.StringValue(v.Namespace), types.StringValue(v.Type)
	m.Command, m.Endpoint, m.Protocol, m.ToolsMode = types.StringValue(v.Command), types.StringValue(v.Endpoint), types.StringValue(v.Protocol), types.StringValue(v.ToolsMode)
	var d diag.Diagnostics
	m.Args, d = types.ListValueFrom(ctx, types.StringType, nonNil(v.Args))
	diags.Append(d...)
	m.Tools, d = types.ListValueFrom(ctx, types.StringType, nonNil(v.Tools))
	diags.Append(d...)
	m.Workgroups = stringSet(ctx, v.Workgroups, diags)
	m.Identities = stringSet(ctx, v.Identities, diags)
	if rep != nil {
		m.AppliedGeneration, m.ConfigSHA256 = types.Int64Value(rep.Generation), types.StringValue(rep.ConfigSHA256)
	}
}

func (r *mcpRouteResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan mcpRouteModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := plan.intent(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	s, rep, err := r.engine.CreateMCPRoute(ctx, in)
	if s != nil {
		plan.observed(ctx, s, &rep, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err != nil {
		addError(&resp.Diagnostics, "MCP route "+in.Namespace+" is not applied on gateway "+in.Gateway, err)
	}
}

func (r *mcpRouteResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state mcpRouteModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.ReadMCPRoute(ctx, state.ID.ValueString())
	if gone(ctx, err, resp) {
		return
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot read MCP route "+state.ID.ValueString(), err)
		return
	}
	state.observed(ctx, s, nil, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update is never called: every attribute forces replacement.
func (r *mcpRouteResource) Update(_ context.Context, _ resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.Diagnostics.AddError("MCP route cannot change in place", "Every attribute of agentmesh_mcp_route forces replacement; this is a provider bug.")
}

func (r *mcpRouteResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state mcpRouteModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.engine.DeleteMCPRoute(ctx, state.ID.ValueString()); err != nil {
		addError(&resp.Diagnostics, "Cannot delete MCP route "+state.Namespace.ValueString(), err)
	}
}

func (r *mcpRouteResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
