package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/reconciler"
)

var _ datasource.DataSourceWithConfigure = (*gatewayUsageDataSource)(nil)

// NewGatewayUsageDataSource is the agentmesh_gateway_usage data source.
func NewGatewayUsageDataSource() datasource.DataSource { return &gatewayUsageDataSource{} }

type gatewayUsageDataSource struct{ engine *reconciler.Engine }

type gatewayUsageModel struct {
	Gateway           types.String `tfsdk:"gateway"`
	AppliedGeneration types.Int64  `tfsdk:"applied_generation"`
	ConfigSHA256      types.String `tfsdk:"config_sha256"`
	Usage             types.List   `tfsdk:"usage"`
}

var usageType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"identity": types.StringType, "tokens": types.Int64Type, "requests": types.Int64Type, "period_start": types.StringType,
}}

func (d *gatewayUsageDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_gateway_usage"
}

func (d *gatewayUsageDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "What a running LLM gateway applied, and each identity's token usage in its current budget period, " +
			"asked of the gateway agent over its dark control service.",
		Attributes: map[string]schema.Attribute{
			"gateway":            schema.StringAttribute{Required: true, MarkdownDescription: "Gateway name.", Validators: []validator.String{labelValidator}},
			"applied_generation": schema.Int64Attribute{Computed: true, MarkdownDescription: "Generation the gateway runs."},
			"config_sha256":      schema.StringAttribute{Computed: true, MarkdownDescription: "Hash of the configuration it runs."},
			"usage": schema.ListNestedAttribute{Computed: true, MarkdownDescription: "Per-identity usage in the current period.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"identity":     schema.StringAttribute{Computed: true, MarkdownDescription: "Identity name."},
					"tokens":       schema.Int64Attribute{Computed: true, MarkdownDescription: "Tokens used."},
					"requests":     schema.Int64Attribute{Computed: true, MarkdownDescription: "Requests answered."},
					"period_start": schema.StringAttribute{Computed: true, MarkdownDescription: "Start of the budget period (RFC 3339)."},
				}}},
		},
	}
}

func (d *gatewayUsageDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *gatewayUsageDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m gatewayUsageModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	r, err := d.engine.GatewayStatus(ctx, m.Gateway.ValueString())
	if err != nil {
		addError(&resp.Diagnostics, "Cannot ask gateway "+m.Gateway.ValueString()+" for its usage", err)
		return
	}
	m.AppliedGeneration, m.ConfigSHA256 = types.Int64Value(r.Generation), types.StringValue(r.ConfigSHA256)
	var items []attr.Value
	for _, u := range r.Usage {
		v, diags := types.ObjectValue(usageType.AttrTypes, map[string]attr.Value{
			"identity": types.StringValue(u.Identity), "tokens": types.Int64Value(u.Tokens),
			"requests": types.Int64Value(u.Requests), "period_start": types.StringValue(u.PeriodStart.UTC().Format(time.RFC3339)),
		})
		resp.Diagnostics.Append(diags...)
		items = append(items, v)
	}
	list, diags := types.ListValue(usageType, nonNilValues(items))
	resp.Diagnostics.Append(diags...)
	m.Usage = list
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func nonNilValues(v []attr.Value) []attr.Value {
	if v == nil {
		return []attr.Value{}
	}
	return v
}
