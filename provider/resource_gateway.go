package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/float64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
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
	_ resource.ResourceWithModifyPlan  = (*gatewayResource)(nil)
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
	DataPlane      types.String `tfsdk:"data_plane_service_prefix"`
	Converged      types.Bool   `tfsdk:"converged"`

	OpenAIKey        types.String `tfsdk:"openai_api_key_wo"`
	OpenAIBaseURL    types.String `tfsdk:"openai_base_url"`
	AnthropicKey     types.String `tfsdk:"anthropic_api_key_wo"`
	AnthropicBaseURL types.String `tfsdk:"anthropic_base_url"`
	HostedProviders  types.List   `tfsdk:"hosted_providers"`
	KeysVersion      types.Int64  `tfsdk:"api_keys_wo_version"`
	KeysApplied      types.Int64  `tfsdk:"api_keys_applied_version"`

	InterceptAddress types.String `tfsdk:"intercept_address"`
	InterceptPort    types.Int64  `tfsdk:"intercept_port"`

	SemanticProvider  types.String  `tfsdk:"semantic_provider"`
	SemanticModel     types.String  `tfsdk:"semantic_model"`
	SemanticThreshold types.Float64 `tfsdk:"semantic_threshold"`
	DefaultRoute      types.String  `tfsdk:"default_route"`

	MCPName          types.String `tfsdk:"mcp_aggregator_name"`
	MCPVersion       types.String `tfsdk:"mcp_aggregator_version"`
	MCPSeparator     types.String `tfsdk:"mcp_separator"`
	MCPShareToken    types.String `tfsdk:"mcp_share_token_wo"`
	MCPShareTokenSet types.Bool   `tfsdk:"mcp_share_token_set"`
	MCPHeartbeat     types.String `tfsdk:"mcp_heartbeat_interval"`
	MCPConnect       types.String `tfsdk:"mcp_connect_timeout"`
	MCPCall          types.String `tfsdk:"mcp_call_timeout"`
}

// aggregator is the mcp settings the configuration sets, nil when none.
func (m *gatewayModel) aggregator() *reconciler.MCPAggregator {
	a := &reconciler.MCPAggregator{Name: m.MCPName.ValueString(), Version: m.MCPVersion.ValueString(), Separator: m.MCPSeparator.ValueString(),
		ShareTokenSet: !m.MCPShareToken.IsNull(), HeartbeatInterval: m.MCPHeartbeat.ValueString(),
		ConnectTimeout: m.MCPConnect.ValueString(), CallTimeout: m.MCPCall.ValueString()}
	if *a == (reconciler.MCPAggregator{}) {
		return nil
	}
	return a
}

// hosted lists the providers whose key the configuration sets, and every
// write-only value it sets by secret name (the keys, the share token);
// write-only values are only ever read from the configuration.
func (m *gatewayModel) hosted() ([]reconciler.HostedProvider, map[string]string) {
	var list []reconciler.HostedProvider
	secrets := map[string]string{}
	for _, p := range []struct {
		name     string
		key, url types.String
	}{{"anthropic", m.AnthropicKey, m.AnthropicBaseURL}, {"open_ai", m.OpenAIKey, m.OpenAIBaseURL}} {
		if p.key.IsNull() {
			continue
		}
		list = append(list, reconciler.HostedProvider{Provider: p.name, BaseURL: p.url.ValueString()})
		secrets[reconciler.ProviderSecret(p.name)] = p.key.ValueString()
	}
	if !m.MCPShareToken.IsNull() {
		secrets[gateways.SecretMCPShareToken] = m.MCPShareToken.ValueString()
	}
	return list, secrets
}

func (m *gatewayModel) intent() *reconciler.Gateway {
	hosted, _ := m.hosted()
	return &reconciler.Gateway{Name: m.Name.ValueString(), Kind: m.Kind.ValueString(),
		Identity: m.Identity.ValueString(), Organization: m.Organization.ValueString(), Listen: m.Listen.ValueString(),
		LocalBaseURL: m.LocalBaseURL.ValueString(), Hosted: hosted, SecretsVersion: m.KeysVersion.ValueInt64(), MCP: m.aggregator(),
		InterceptAddress: m.InterceptAddress.ValueString(), InterceptPort: m.InterceptPort.ValueInt64(),
		Semantic: m.semantic(), DefaultRoute: m.DefaultRoute.ValueString()}
}

func (m *gatewayModel) semantic() *reconciler.SemanticRouting {
	if m.SemanticProvider.ValueString() == "" {
		return nil
	}
	return &reconciler.SemanticRouting{Provider: m.SemanticProvider.ValueString(), Model: m.SemanticModel.ValueString(), Threshold: m.SemanticThreshold.ValueFloat64()}
}

func (r *gatewayResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_gateway"
}

func (r *gatewayResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Registers a running AI gateway and its agent. agentmesh makes the agent's **dark control service**: " +
			"the gateway's identity binds it and only the identity the provider authenticates as may dial it. Routes " +
			"(`agentmesh_llm_route`, `agentmesh_mcp_route`) are pushed over it; the agent renders the gateway's YAML, restarts it and reports the " +
			"applied generation. An `llm` gateway listens on loopback only. Hosted provider keys are write-only and reach the agent " +
			"only once it runs: register the gateway, start `agentmesh gateway-agent`, then apply routes. See the *Running gateways* guide.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "Id of the registration's config.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"name": schema.StringAttribute{Required: true, MarkdownDescription: "Gateway name, a lower-case DNS label.",
				Validators: []validator.String{labelValidator}, PlanModifiers: replace},
			"kind": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(gateways.KindLLM),
				MarkdownDescription: "`llm` (openziti/llm-gateway v0.1.x) or `mcp` (openziti/mcp-gateway v0.1.x, reached through the agent's MCP front).",
				Validators:          []validator.String{stringvalidator.OneOf(gateways.KindLLM, gateways.KindMCP)}, PlanModifiers: replace},
			"identity": schema.StringAttribute{Required: true, MarkdownDescription: "Id of the gateway agent's identity (`kind = \"gateway\"`).",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)}, PlanModifiers: replace},
			"organization": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				MarkdownDescription: "Organisation that runs the gateway.", PlanModifiers: replace},
			"listen": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				MarkdownDescription: "For `llm`: the gateway's loopback `host:port`, for example `127.0.0.1:8080` (required).",
				PlanModifiers:       replace},
			"local_base_url": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				MarkdownDescription: "OpenAI-compatible local upstream (for example an Ollama URL such as `http://127.0.0.1:11434`, without `/v1`: the gateway appends `/v1/chat/completions`) for models that are not `gpt-`/`o1-`/`o3-`/`claude-`."},
			"openai_api_key_wo": schema.StringAttribute{Optional: true, Sensitive: true, WriteOnly: true,
				MarkdownDescription: "OpenAI API key (write-only: never stored in state or on the controller). Setting it makes the gateway serve `gpt-`, `o1-` and `o3-` models. " +
					"It travels once, over the agent's dark control service, and the agent keeps it on the gateway host (mode 0600). Raise `api_keys_wo_version` to send a new key.",
				Validators: []validator.String{secretText}},
			"openai_base_url": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				MarkdownDescription: "OpenAI base URL without the `/v1` (the gateway appends `/v1/chat/completions`), for example `https://api.openai.com`; empty for the gateway's default."},
			"anthropic_api_key_wo": schema.StringAttribute{Optional: true, Sensitive: true, WriteOnly: true,
				MarkdownDescription: "Anthropic API key (write-only, delivered like `openai_api_key_wo`). Setting it makes the gateway serve `claude-` models.",
				Validators:          []validator.String{secretText}},
			"anthropic_base_url": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				MarkdownDescription: "Anthropic base URL without the `/v1` (the gateway appends `/v1/messages`); empty for the gateway's default."},
			"intercept_address": optionalText("For `llm`: an address such as `llm.macro.ziti` that every audience identity's tunneller (ziti-edge-tunnel, Ziti Desktop Edge) " +
				"intercepts; each identity sees only its own data-plane service, and all of them carry this address. Empty: callers dial with an SDK."),
			"intercept_port": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(80),
				MarkdownDescription: "Port of `intercept_address` (default 80).", Validators: []validator.Int64{int64validator.Between(1, 65535)}},
			"semantic_provider": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				MarkdownDescription: "For `llm`: turns on semantic routing of `auto` requests over the routes' descriptions and examples, with embeddings " +
					"from the `local` or `openai` provider (which the gateway must configure). Empty: off.",
				Validators: []validator.String{stringvalidator.OneOf("", "local", "openai")}},
			"semantic_model": optionalText("The embedding model of semantic routing, for example `nomic-embed-text`."),
			"semantic_threshold": schema.Float64Attribute{Optional: true, Computed: true, Default: float64default.StaticFloat64(0),
				MarkdownDescription: "Similarity a route needs to be picked (0 to 1); 0 keeps the gateway's default.",
				Validators:          []validator.Float64{float64validator.Between(0, 1)}},
			"default_route":          optionalText("For `llm`: the route that takes `auto` requests nothing else matched (while a route of that name exists); empty: the first route."),
			"mcp_aggregator_name":    optionalText("For `mcp`: the aggregator's name as MCP clients see it; empty for the gateway's name."),
			"mcp_aggregator_version": optionalText("For `mcp`: the aggregator's version string."),
			"mcp_separator":          optionalText("For `mcp`: separator between namespace and tool name; empty for `_`."),
			"mcp_share_token_wo": schema.StringAttribute{Optional: true, Sensitive: true, WriteOnly: true,
				MarkdownDescription: "For `mcp`: the reserved zrok share mcp-gateway serves on, so clients keep one share across restarts (write-only: never stored in state or on the controller). " +
					"It travels once, over the agent's dark control service, like the provider keys; raise `api_keys_wo_version` to send a new one.",
				Validators: []validator.String{secretText}},
			"mcp_share_token_set": schema.BoolAttribute{Computed: true,
				MarkdownDescription: "Whether the configuration sets `mcp_share_token_wo` (the token itself is never recorded)."},
			"mcp_connect_timeout": optionalText("For `mcp`: how long mcp-gateway waits to connect to each backend, a duration such as `30s` (its default). " +
				"The gateway connects its backends one after another and discovers their tools before it serves; the agent waits that long per backend, plus 30s (unless its `start_timeout` says otherwise)."),
			"mcp_call_timeout":       optionalText("For `mcp`: how long one tool call may take, a duration such as `60s` (the gateway's default)."),
			"mcp_heartbeat_interval": optionalText("For `mcp`: orchestrator heartbeat interval, a positive duration such as `10s` (the default; mcp-gateway panics on 0)."),
			"hosted_providers": schema.ListAttribute{ElementType: types.StringType, Computed: true,
				MarkdownDescription: "Hosted providers the gateway is configured for (`anthropic`, `open_ai`): those whose key the configuration sets."},
			"api_keys_wo_version": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(0),
				MarkdownDescription: "Version of the write-only keys. Write-only values leave no trace in state, so a new key is only sent when this changes.",
				Validators:          []validator.Int64{int64validator.AtLeast(0)}},
			"api_keys_applied_version": schema.Int64Attribute{Computed: true,
				MarkdownDescription: "Key version the running agent confirmed; null until the agent has received the keys (for example when it was not running at apply). " +
					"While it differs from `api_keys_wo_version` the plan shows an update that delivers them."},
			"converged": gatewayConvergedAttribute(),
			"control_service": schema.StringAttribute{Computed: true, MarkdownDescription: "Name of the agent's dark control service.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"data_plane_service_prefix": schema.StringAttribute{Computed: true,
				MarkdownDescription: "Each audience identity reaches the gateway through its own dark service, `<prefix><identity name>`, " +
					"which only that identity may dial, so the gateway knows who calls (`agentmesh.llm.<name>.` or `agentmesh.mcp.<name>.`).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
		},
	}
}

func optionalText(desc string) schema.StringAttribute {
	return schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), MarkdownDescription: desc}
}

func (r *gatewayResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

func (m *gatewayModel) observed(s *reconciler.Stored[reconciler.Gateway]) {
	v := s.Value
	m.ID, m.Name, m.Kind, m.Identity = types.StringValue(s.ID), types.StringValue(v.Name), types.StringValue(v.Kind), types.StringValue(v.Identity)
	m.Organization, m.Listen, m.LocalBaseURL = types.StringValue(v.Organization), types.StringValue(v.Listen), types.StringValue(v.LocalBaseURL)
	m.ControlService = types.StringValue(reconciler.ControlService(v.Name))
	m.DataPlane = types.StringValue(reconciler.DataPlaneServiceOf(v.Kind, v.Name, ""))
	m.OpenAIBaseURL, m.AnthropicBaseURL = types.StringValue(""), types.StringValue("")
	var names []attr.Value
	for _, h := range v.Hosted {
		names = append(names, types.StringValue(h.Provider))
		if h.Provider == "open_ai" {
			m.OpenAIBaseURL = types.StringValue(h.BaseURL)
		} else {
			m.AnthropicBaseURL = types.StringValue(h.BaseURL)
		}
	}
	m.HostedProviders = types.ListValueMust(types.StringType, names)
	m.KeysVersion = types.Int64Value(v.SecretsVersion)
	a := reconciler.MCPAggregator{}
	if v.MCP != nil {
		a = *v.MCP
	}
	m.InterceptAddress, m.InterceptPort = types.StringValue(v.InterceptAddress), types.Int64Value(80)
	if v.InterceptPort != 0 {
		m.InterceptPort = types.Int64Value(v.InterceptPort)
	}
	m.SemanticProvider, m.SemanticModel, m.SemanticThreshold = types.StringValue(""), types.StringValue(""), types.Float64Value(0)
	if sr := v.Semantic; sr != nil {
		m.SemanticProvider, m.SemanticModel, m.SemanticThreshold = types.StringValue(sr.Provider), types.StringValue(sr.Model), types.Float64Value(sr.Threshold)
	}
	m.DefaultRoute = types.StringValue(v.DefaultRoute)
	m.MCPName, m.MCPVersion, m.MCPSeparator = types.StringValue(a.Name), types.StringValue(a.Version), types.StringValue(a.Separator)
	m.MCPShareToken, m.MCPShareTokenSet, m.MCPHeartbeat = types.StringNull(), types.BoolValue(a.ShareTokenSet), types.StringValue(a.HeartbeatInterval)
	m.MCPConnect, m.MCPCall = types.StringValue(a.ConnectTimeout), types.StringValue(a.CallTimeout)
	m.OpenAIKey, m.AnthropicKey = types.StringNull(), types.StringNull()
}

// ModifyPlan shows which hosted providers the configuration sets, refuses
// provider settings a gateway cannot use, and plans an update while the
// running agent lacks the current keys.
func (r *gatewayResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var config, plan gatewayModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	hosted, secrets := config.hosted()
	for _, p := range []struct {
		name, attr string
		key, url   types.String
	}{{"OpenAI", "openai", config.OpenAIKey, config.OpenAIBaseURL}, {"Anthropic", "anthropic", config.AnthropicKey, config.AnthropicBaseURL}} {
		if p.key.IsNull() && !p.url.IsNull() && p.url.ValueString() != "" {
			resp.Diagnostics.AddAttributeError(path.Root(p.attr+"_base_url"), "Base URL without a key",
				fmt.Sprintf("%s_base_url is set but %s_api_key_wo is not; llm-gateway leaves a provider without a key inactive. Set the key or remove the base URL.", p.attr, p.attr))
		}
		if !p.key.IsNull() && plan.Kind.ValueString() == gateways.KindMCP {
			resp.Diagnostics.AddAttributeError(path.Root(p.attr+"_api_key_wo"), "Provider key on an mcp gateway",
				p.name+" keys belong to llm gateways; an mcp gateway has no LLM providers.")
		}
	}
	if a := config.withPlan(&plan).aggregator(); a != nil && !plan.Kind.IsUnknown() {
		if plan.Kind.ValueString() != gateways.KindMCP {
			resp.Diagnostics.AddAttributeError(path.Root("kind"), "Aggregator settings on an llm gateway",
				"mcp_* settings belong to gateways with kind = \"mcp\"; remove them or change the kind.")
		} else if err := a.Validate(); err != nil {
			addError(&resp.Diagnostics, "Invalid aggregator settings for gateway "+plan.Name.ValueString(), err)
		}
	}
	if p := plan.SemanticProvider.ValueString(); p != "" && !plan.SemanticModel.IsUnknown() && plan.SemanticModel.ValueString() == "" {
		resp.Diagnostics.AddAttributeError(path.Root("semantic_model"), "Semantic routing without a model",
			"semantic_provider "+p+" needs semantic_model, the embedding model it computes with.")
	}
	if plan.Kind.ValueString() == gateways.KindMCP && (plan.SemanticProvider.ValueString() != "" || plan.DefaultRoute.ValueString() != "") {
		resp.Diagnostics.AddAttributeError(path.Root("kind"), "LLM routing on an mcp gateway",
			"semantic_* and default_route belong to gateways with kind = \"llm\".")
	}
	if plan.Kind.ValueString() == gateways.KindMCP && plan.InterceptAddress.ValueString() != "" {
		resp.Diagnostics.AddAttributeError(path.Root("intercept_address"), "Intercept on an mcp gateway",
			"An mcp gateway's data plane is reached with an SDK (MCP clients speak HTTP+SSE to their own dark service); intercept_address belongs to llm gateways.")
	}
	var names []attr.Value
	for _, h := range hosted {
		names = append(names, types.StringValue(h.Provider))
	}
	plan.HostedProviders = types.ListValueMust(types.StringType, names)
	plan.MCPShareTokenSet = types.BoolValue(!config.MCPShareToken.IsNull())
	if config.MCPShareToken.IsUnknown() {
		plan.MCPShareTokenSet = types.BoolUnknown()
	}
	if !config.MCPShareToken.IsNull() && plan.Kind.ValueString() == gateways.KindLLM {
		resp.Diagnostics.AddAttributeError(path.Root("mcp_share_token_wo"), "Share token on an llm gateway",
			"mcp_share_token_wo belongs to gateways with kind = \"mcp\".")
	}
	if !plan.Kind.IsUnknown() && !plan.Name.IsUnknown() {
		// Known from the plan, so a state written before mcp gateways had
		// a data plane (an empty prefix) is corrected by the plan, not by
		// a surprise after apply.
		plan.DataPlane = types.StringValue(reconciler.DataPlaneServiceOf(plan.Kind.ValueString(), plan.Name.ValueString(), ""))
	}
	switch {
	case len(secrets) == 0:
		plan.KeysApplied = plan.KeysVersion
	case req.State.Raw.IsNull():
		plan.KeysApplied = types.Int64Unknown()
	default:
		var state gatewayModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if state.KeysApplied.IsNull() || !state.KeysApplied.Equal(plan.KeysVersion) || !state.HostedProviders.Equal(plan.HostedProviders) || !state.MCPShareTokenSet.Equal(plan.MCPShareTokenSet) ||
			!state.OpenAIBaseURL.Equal(plan.OpenAIBaseURL) || !state.AnthropicBaseURL.Equal(plan.AnthropicBaseURL) || !state.LocalBaseURL.Equal(plan.LocalBaseURL) {
			plan.KeysApplied = types.Int64Unknown()
		} else {
			plan.KeysApplied = state.KeysApplied
		}
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// deliver pushes the gateway's table with the configuration's keys when
// its agent runs, and records which key version the agent confirmed.
func (r *gatewayResource) deliver(ctx context.Context, config *gatewayModel, out *gatewayModel, diags *diag.Diagnostics) {
	hosted, secrets := config.hosted()
	out.KeysApplied = types.Int64Null()
	if len(secrets) == 0 {
		out.KeysApplied = out.KeysVersion
	}
	running, rep, err := r.engine.PushGatewayIfRunning(ctx, out.Name.ValueString(), secrets)
	for _, w := range rep.Warnings {
		diags.AddWarning("Gateway "+out.Name.ValueString()+" runs with a warning", w)
	}
	switch {
	case err != nil:
		addError(diags, "Gateway "+out.Name.ValueString()+" did not apply its settings", err)
	case !running && len(secrets) > 0:
		what := "the keys of " + providerNames(hosted)
		if len(hosted) == 0 {
			what = "its share token"
		}
		diags.AddWarning("Write-only values not delivered yet",
			fmt.Sprintf("No agent is running on control service %s, so %s were not sent (they are never stored anywhere else). "+
				"Start the gateway agent, then apply again: api_keys_applied_version stays empty, and the plan shows the delivery, until the agent has them.",
				out.ControlService.ValueString(), what))
	case running:
		out.KeysApplied = out.KeysVersion
	}
}

func providerNames(hosted []reconciler.HostedProvider) string {
	var names []string
	for _, h := range hosted {
		names = append(names, h.Provider)
	}
	return strings.Join(names, " and ")
}

func (r *gatewayResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan gatewayModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var config gatewayModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.CreateGateway(ctx, config.withPlan(&plan).intent())
	if s != nil {
		plan.observed(s)
		plan.Converged = types.BoolValue(true)
		plan.KeysApplied = types.Int64Null()
		if err == nil {
			r.deliver(ctx, &config, &plan, &resp.Diagnostics)
		}
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot register gateway "+plan.Name.ValueString(), err)
	}
}

// withPlan is the configuration's write-only keys on top of the plan.
func (m *gatewayModel) withPlan(plan *gatewayModel) *gatewayModel {
	c := *plan
	c.OpenAIKey, c.AnthropicKey, c.MCPShareToken = m.OpenAIKey, m.AnthropicKey, m.MCPShareToken
	return &c
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
	// Whether the agent holds the keys is not observable from the
	// controller: keep what the last delivery recorded. A gateway without
	// hosted providers has nothing to deliver.
	applied := state.KeysApplied
	state.observed(s)
	state.KeysApplied = applied
	if len(s.Value.Hosted) == 0 && (s.Value.MCP == nil || !s.Value.MCP.ShareTokenSet) {
		state.KeysApplied = state.KeysVersion
	}
	state.Converged = converged(ctx, r.engine, "gateway/"+s.Value.Name, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update changes the providers, their keys' version or the local upstream
// and delivers them to the running agent.
func (r *gatewayResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, config gatewayModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.engine.UpdateGateway(ctx, plan.ID.ValueString(), config.withPlan(&plan).intent())
	if err != nil {
		addError(&resp.Diagnostics, "Cannot update gateway "+plan.Name.ValueString(), err)
		return
	}
	plan.observed(s)
	plan.Converged = types.BoolValue(true)
	r.deliver(ctx, &config, &plan, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
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
	importByName(ctx, r.engine, reconciler.ImportGateway, req, resp)
}
