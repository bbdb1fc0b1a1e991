package provider

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
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
	_ resource.Resource                = (*mcpRouteResource)(nil)
	_ resource.ResourceWithConfigure   = (*mcpRouteResource)(nil)
	_ resource.ResourceWithImportState = (*mcpRouteResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*mcpRouteResource)(nil)
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
	WorkingDir        types.String `tfsdk:"working_dir"`
	Endpoint          types.String `tfsdk:"endpoint"`
	Protocol          types.String `tfsdk:"protocol"`
	AllowInsecure     types.Bool   `tfsdk:"allow_insecure"`
	TLSSkipVerify     types.Bool   `tfsdk:"tls_insecure_skip_verify"`
	TLSCACertFile     types.String `tfsdk:"tls_ca_cert_file"`
	ToolsMode         types.String `tfsdk:"tools_mode"`
	Tools             types.List   `tfsdk:"tools"`
	Workgroups        types.Set    `tfsdk:"workgroups"`
	Identities        types.Set    `tfsdk:"identities"`
	AppliedGeneration types.Int64  `tfsdk:"applied_generation"`
	ConfigSHA256      types.String `tfsdk:"config_sha256"`

	Env               types.Map    `tfsdk:"env"`
	Headers           types.Map    `tfsdk:"headers"`
	SecretEnv         types.Map    `tfsdk:"secret_env_wo"`
	SecretHeaders     types.Map    `tfsdk:"secret_headers_wo"`
	SecretEnvNames    types.List   `tfsdk:"secret_env_names"`
	SecretHeaderNames types.List   `tfsdk:"secret_header_names"`
	ShareToken        types.String `tfsdk:"share_token_wo"`
	ShareTokenSet     types.Bool   `tfsdk:"share_token_set"`
	SecretsVersion    types.Int64  `tfsdk:"secrets_wo_version"`
}

// secrets reads the write-only values, which only the configuration holds.
func (m *mcpRouteModel) secrets(ctx context.Context, diags *diag.Diagnostics) reconciler.MCPSecrets {
	var s reconciler.MCPSecrets
	if !m.SecretHeaders.IsNull() {
		diags.Append(m.SecretHeaders.ElementsAs(ctx, &s.Headers, false)...)
	}
	if !m.SecretEnv.IsNull() {
		diags.Append(m.SecretEnv.ElementsAs(ctx, &s.Env, false)...)
	}
	s.ShareToken = m.ShareToken.ValueString()
	return s
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

func (r *mcpRouteResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_mcp_route"
}

func (r *mcpRouteResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	optString := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), MarkdownDescription: desc, PlanModifiers: replace}
	}
	optBool := func(desc string) schema.BoolAttribute {
		return schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false), MarkdownDescription: desc,
			PlanModifiers: []planmodifier.Bool{boolplanmodifier.RequiresReplace()}}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "One MCP backend of an `mcp` gateway, exposed as `<namespace>_<tool>` (or the gateway's `mcp_separator`), and who may use it. " +
			"Each audience identity (members of `workgroups`, plus `identities`) reaches the gateway through its own dark service, served by the agent's MCP front " +
			"(the agent's config must name `zrok`): `tools/list` shows it only the tools of its routes, and a `tools/call` outside them is refused with the rule. " +
			"Routes with different audiences may share a gateway. A filter that would deny every tool is refused. " +
			"The apply returns once the running gateway reports it applied, and warns about allowed tool names the backend does not have. " +
			"A change of audience is made in place; any other change replaces the route (and restarts the gateway).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "Id of the route's config.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"gateway": schema.StringAttribute{Required: true, MarkdownDescription: "Name of the `mcp` gateway.",
				Validators: []validator.String{labelValidator}, PlanModifiers: replace},
			"namespace": schema.StringAttribute{Required: true, MarkdownDescription: "Backend id; tools appear as `<namespace><separator><tool>`.",
				Validators: []validator.String{labelValidator}, PlanModifiers: replace},
			"type": schema.StringAttribute{Required: true, MarkdownDescription: "`stdio`, `http`, `https` or `zrok`.",
				Validators: []validator.String{stringvalidator.OneOf("stdio", "http", "https", "zrok")}, PlanModifiers: replace},
			"command":     optString("stdio: the command to run."),
			"working_dir": optString("stdio: the directory the command runs in."),
			"endpoint":    optString("http/https: the backend URL (`http://...` for `http`, `https://...` for `https`)."),
			"protocol":    optString("http/https: `sse` or `streamable`."),
			"allow_insecure": optBool("http: allow a plain `http://` endpoint, sent in the clear. mcp-gateway refuses an `http://` endpoint without it, " +
				"so an `http` route without it is refused at plan time. Prefer `https`."),
			"tls_insecure_skip_verify": optBool("https: do not verify the backend's certificate. Only for tests: anyone on the path can then impersonate the backend."),
			"tls_ca_cert_file":         optString("https: a PEM file on the gateway host with the CA that signs the backend's certificate."),
			"share_token_wo": schema.StringAttribute{Optional: true, Sensitive: true, WriteOnly: true,
				MarkdownDescription: "zrok: the backend's share token (required for `zrok`; write-only, delivered like `secret_env_wo`: never stored in state or on the controller).",
				Validators:          []validator.String{secretText}},
			"share_token_set": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether `share_token_wo` is set (the token itself is never recorded)."},
			"args": schema.ListAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default: listdefault.StaticValue(types.ListValueMust(types.StringType, nil)), MarkdownDescription: "stdio: arguments.",
				PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()}},
			"tools_mode": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("allow"),
				MarkdownDescription: "`allow` (default) or `deny`.", Validators: []validator.String{stringvalidator.OneOf("allow", "deny")}, PlanModifiers: replace},
			"tools": schema.ListAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default: listdefault.StaticValue(types.ListValueMust(types.StringType, nil)), MarkdownDescription: "Tool name patterns (path.Match).",
				PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()}},
			"workgroups": schema.SetAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default: setdefault.StaticValue(types.SetValueMust(types.StringType, nil)), MarkdownDescription: "Audience: workgroups whose members may use this route's tools. Changes in place: the gateway keeps running.",
				Validators: []validator.Set{setvalidator.ValueStringsAre(labelValidator)}},
			"identities": schema.SetAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default: setdefault.StaticValue(types.SetValueMust(types.StringType, nil)), MarkdownDescription: "Audience: identity ids that may use this route's tools. Changes in place.",
			},
			"env": schema.MapAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default: mapdefault.StaticValue(types.MapValueMust(types.StringType, nil)), MarkdownDescription: "stdio: environment variables that are not secret (stored in state and on the controller).",
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()}},
			"headers": schema.MapAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				Default: mapdefault.StaticValue(types.MapValueMust(types.StringType, nil)), MarkdownDescription: "http/https: headers that are not secret.",
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()}},
			"secret_env_wo": schema.MapAttribute{ElementType: types.StringType, Optional: true, Sensitive: true, WriteOnly: true,
				MarkdownDescription: "stdio: secret environment variables (write-only). Only their names are recorded; the values travel once to the gateway agent over its dark control service " +
					"and it keeps them (mode 0600). mcp-gateway reads them from its config file, which the agent writes with mode 0600. Raise `secrets_wo_version` to send new values."},
			"secret_headers_wo": schema.MapAttribute{ElementType: types.StringType, Optional: true, Sensitive: true, WriteOnly: true,
				MarkdownDescription: "http/https: secret headers such as `Authorization` (write-only, delivered like `secret_env_wo`)."},
			"secret_env_names": schema.ListAttribute{ElementType: types.StringType, Computed: true,
				MarkdownDescription: "Names of the variables in `secret_env_wo`."},
			"secret_header_names": schema.ListAttribute{ElementType: types.StringType, Computed: true,
				MarkdownDescription: "Names of the headers in `secret_headers_wo`."},
			"secrets_wo_version": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(0),
				MarkdownDescription: "Version of the write-only values; changing it sends them again (the route is replaced).",
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.RequiresReplace()}},
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
		Command: m.Command.ValueString(), WorkingDir: m.WorkingDir.ValueString(), Endpoint: m.Endpoint.ValueString(), Protocol: m.Protocol.ValueString(),
		AllowInsecure: m.AllowInsecure.ValueBool(), TLSInsecureSkipVerify: m.TLSSkipVerify.ValueBool(), TLSCACertFile: m.TLSCACertFile.ValueString(),
		SecretShareToken: m.ShareTokenSet.ValueBool(), ToolsMode: m.ToolsMode.ValueString()}
	diags.Append(m.Args.ElementsAs(ctx, &in.Args, false)...)
	diags.Append(m.Tools.ElementsAs(ctx, &in.Tools, false)...)
	diags.Append(m.Workgroups.ElementsAs(ctx, &in.Workgroups, false)...)
	diags.Append(m.Identities.ElementsAs(ctx, &in.Identities, false)...)
	diags.Append(m.Env.ElementsAs(ctx, &in.Env, false)...)
	diags.Append(m.Headers.ElementsAs(ctx, &in.Headers, false)...)
	diags.Append(m.SecretEnvNames.ElementsAs(ctx, &in.SecretEnv, false)...)
	diags.Append(m.SecretHeaderNames.ElementsAs(ctx, &in.SecretHeaders, false)...)
	in.SecretsVersion = m.SecretsVersion.ValueInt64()
	return in
}

// known says whether every attribute the route's checks read is known.
func (m *mcpRouteModel) known() bool {
	for _, v := range []attr.Value{m.Gateway, m.Namespace, m.Type, m.Command, m.WorkingDir, m.Args, m.Endpoint, m.Protocol, m.AllowInsecure,
		m.TLSSkipVerify, m.TLSCACertFile, m.ToolsMode, m.Tools, m.Workgroups, m.Identities, m.Env, m.Headers, m.SecretEnvNames, m.SecretHeaderNames,
		m.ShareTokenSet, m.SecretsVersion} {
		if v.IsUnknown() {
			return false
		}
	}
	return true
}

// ModifyPlan records the names of the write-only values (a new name
// replaces the route, so its value is delivered) and checks the route
// against the gateway's other routes before anything is written.
func (r *mcpRouteResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var config, plan mcpRouteModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.ShareTokenSet = types.BoolValue(!config.ShareToken.IsNull())
	if config.ShareToken.IsUnknown() {
		plan.ShareTokenSet = types.BoolUnknown()
	}
	if config.SecretEnv.IsUnknown() || config.SecretHeaders.IsUnknown() {
		plan.SecretEnvNames, plan.SecretHeaderNames = types.ListUnknown(types.StringType), types.ListUnknown(types.StringType)
	} else {
		sec := config.secrets(ctx, &resp.Diagnostics)
		var d diag.Diagnostics
		plan.SecretEnvNames, d = types.ListValueFrom(ctx, types.StringType, nonNil(sortedKeys(sec.Env)))
		resp.Diagnostics.Append(d...)
		plan.SecretHeaderNames, d = types.ListValueFrom(ctx, types.StringType, nonNil(sortedKeys(sec.Headers)))
		resp.Diagnostics.Append(d...)
	}
	if plan.known() {
		in := plan.intent(ctx, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
		if err := r.engine.CheckMCPRoute(ctx, in); err != nil {
			addError(&resp.Diagnostics, "MCP route "+in.Namespace+" cannot run on gateway "+in.Gateway, err)
		}
	}
	if !req.State.Raw.IsNull() {
		var state mcpRouteModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if !state.SecretEnvNames.Equal(plan.SecretEnvNames) {
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("secret_env_names"))
		}
		if !state.SecretHeaderNames.Equal(plan.SecretHeaderNames) {
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("secret_header_names"))
		}
		// An unknown token may turn out set or not: replacing is right
		// either way (every change of a route replaces it).
		if !state.ShareTokenSet.Equal(plan.ShareTokenSet) {
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("share_token_set"))
		}
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (m *mcpRouteModel) observed(ctx context.Context, s *reconciler.Stored[reconciler.MCPRoute], rep *gateways.Report, diags *diag.Diagnostics) {
	v := s.Value
	m.ID, m.Gateway, m.Namespace, m.Type = types.StringValue(s.ID), types.StringValue(v.Gateway), types.StringValue(v.Namespace), types.StringValue(v.Type)
	m.Command, m.Endpoint, m.Protocol, m.ToolsMode = types.StringValue(v.Command), types.StringValue(v.Endpoint), types.StringValue(v.Protocol), types.StringValue(v.ToolsMode)
	m.WorkingDir, m.AllowInsecure = types.StringValue(v.WorkingDir), types.BoolValue(v.AllowInsecure)
	m.TLSSkipVerify, m.TLSCACertFile = types.BoolValue(v.TLSInsecureSkipVerify), types.StringValue(v.TLSCACertFile)
	m.ShareToken, m.ShareTokenSet = types.StringNull(), types.BoolValue(v.SecretShareToken)
	var d diag.Diagnostics
	m.Args, d = types.ListValueFrom(ctx, types.StringType, nonNil(v.Args))
	diags.Append(d...)
	m.Tools, d = types.ListValueFrom(ctx, types.StringType, nonNil(v.Tools))
	diags.Append(d...)
	m.Workgroups = stringSet(ctx, v.Workgroups, diags)
	m.Identities = stringSet(ctx, v.Identities, diags)
	m.Env, d = types.MapValueFrom(ctx, types.StringType, nonNilMap(v.Env))
	diags.Append(d...)
	m.Headers, d = types.MapValueFrom(ctx, types.StringType, nonNilMap(v.Headers))
	diags.Append(d...)
	m.SecretEnvNames, d = types.ListValueFrom(ctx, types.StringType, nonNil(v.SecretEnv))
	diags.Append(d...)
	m.SecretHeaderNames, d = types.ListValueFrom(ctx, types.StringType, nonNil(v.SecretHeaders))
	diags.Append(d...)
	m.SecretsVersion = types.Int64Value(v.SecretsVersion)
	m.SecretEnv, m.SecretHeaders = types.MapNull(types.StringType), types.MapNull(types.StringType)
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
	var config mcpRouteModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	in := plan.intent(ctx, &resp.Diagnostics)
	secrets := config.secrets(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	s, rep, err := r.engine.CreateMCPRoute(ctx, in, secrets)
	for _, w := range rep.Warnings {
		resp.Diagnostics.AddWarning("Gateway "+in.Gateway+" runs route "+in.Namespace+" with a warning", w)
	}
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

// Update changes the audience (workgroups, identities); every other
// attribute forces replacement.
func (r *mcpRouteResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state mcpRouteModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := plan.intent(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	s, rep, err := r.engine.UpdateMCPRoute(ctx, state.ID.ValueString(), in)
	for _, w := range rep.Warnings {
		resp.Diagnostics.AddWarning("Gateway "+in.Gateway+" runs route "+in.Namespace+" with a warning", w)
	}
	if err != nil {
		addError(&resp.Diagnostics, "MCP route "+in.Namespace+" is not applied on gateway "+in.Gateway, err)
		return
	}
	plan.observed(ctx, s, &rep, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *mcpRouteResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state mcpRouteModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.engine.DeleteMCPRoute(ctx, state.ID.ValueString())
	switch {
	case errors.Is(err, reconciler.ErrGatewayDown):
		resp.Diagnostics.AddWarning("MCP route deleted; gateway not told yet", err.Error())
	case err != nil:
		addError(&resp.Diagnostics, "Cannot delete MCP route "+state.Namespace.ValueString(), err)
	}
}

func (r *mcpRouteResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, r.engine, reconciler.ImportMCPRoute, req, resp)
}
