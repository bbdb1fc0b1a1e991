package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/reconciler"
)

var (
	_ datasource.DataSource                     = (*accessDataSource)(nil)
	_ datasource.DataSourceWithConfigure        = (*accessDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*accessDataSource)(nil)
)

// NewAccessDataSource is the agentmesh_access data source.
func NewAccessDataSource() datasource.DataSource { return &accessDataSource{} }

type accessDataSource struct{ engine *reconciler.Engine }

type accessModel struct {
	Endpoint   types.String `tfsdk:"endpoint"`
	Identity   types.String `tfsdk:"identity"`
	Identities types.Set    `tfsdk:"identities"`
	Services   types.Set    `tfsdk:"services"`
}

func (d *accessDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_access"
}

func (d *accessDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Who can dial what, answered by the controller's own evaluation of the live policies, not by " +
			"agentmesh's model. Use it in `check` blocks as policy tests, for example that two organisations cannot see " +
			"each other. Set exactly one of `endpoint` and `identity`.",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{Optional: true, MarkdownDescription: "Id of an endpoint (service): fills `identities`."},
			"identity": schema.StringAttribute{Optional: true, MarkdownDescription: "Id of an identity: fills `services`."},
			"identities": schema.SetAttribute{ElementType: types.StringType, Computed: true,
				MarkdownDescription: "Names of the identities that may dial `endpoint`."},
			"services": schema.SetAttribute{ElementType: types.StringType, Computed: true,
				MarkdownDescription: "Names of the services (endpoints) `identity` may dial."},
		},
	}
}

func (d *accessDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{datasourcevalidator.ExactlyOneOf(path.MatchRoot("endpoint"), path.MatchRoot("identity"))}
}

func (d *accessDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *accessDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m accessModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m.Identities, m.Services = types.SetNull(types.StringType), types.SetNull(types.StringType)
	if !m.Endpoint.IsNull() {
		names, err := d.engine.Dialers(ctx, m.Endpoint.ValueString())
		if err != nil {
			addError(&resp.Diagnostics, "Cannot evaluate access to endpoint "+m.Endpoint.ValueString(), err)
			return
		}
		m.Identities = stringSet(ctx, names, &resp.Diagnostics)
	} else {
		names, err := d.engine.Dialable(ctx, m.Identity.ValueString())
		if err != nil {
			addError(&resp.Diagnostics, "Cannot evaluate access of identity "+m.Identity.ValueString(), err)
			return
		}
		m.Services = stringSet(ctx, names, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
