package provider

import (
	"context"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/reconciler"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

var (
	_ datasource.DataSource                     = (*identityDataSource)(nil)
	_ datasource.DataSourceWithConfigure        = (*identityDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*identityDataSource)(nil)
)

// NewIdentityDataSource is the agentmesh_identity data source.
func NewIdentityDataSource() datasource.DataSource { return &identityDataSource{} }

type identityDataSource struct{ engine *reconciler.Engine }

// identityDataModel is the resource's model without the enrollment token:
// a lookup should not hand out a credential.
type identityDataModel struct {
	ID                  types.String `tfsdk:"id"`
	Name                types.String `tfsdk:"name"`
	Organization        types.String `tfsdk:"organization"`
	Kind                types.String `tfsdk:"kind"`
	RoleAttributes      types.Set    `tfsdk:"role_attributes"`
	AuthPolicy          types.String `tfsdk:"auth_policy"`
	Disabled            types.Bool   `tfsdk:"disabled"`
	Tags                types.Map    `tfsdk:"tags"`
	EnrollmentExpiresAt types.String `tfsdk:"enrollment_expires_at"`
	Enrolled            types.Bool   `tfsdk:"enrolled"`
	Managed             types.Bool   `tfsdk:"managed"`
}

func (d *identityDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_identity"
}

func (d *identityDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Looks up one Ziti identity by `id` or by `name`. The enrollment token is not exposed here; use the `agentmesh_identity` resource that created it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "The identity id. Set exactly one of `id` and `name`.",
			},
			"name": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "The identity name. Set exactly one of `id` and `name`.",
				Validators:          []validator.String{nameValidator},
			},
			"organization":          computed("The organisation (`org.<organization>` role attribute)."),
			"kind":                  computed("`agent`, `gateway`, `user` or `service`."),
			"auth_policy":           computed("Id of the identity's auth policy."),
			"enrollment_expires_at": computed("When a pending enrollment token expires (RFC 3339)."),
			"role_attributes": schema.SetAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "User role attributes (reserved `org.`/`wg.` attributes excluded).",
			},
			"tags": schema.MapAttribute{
				ElementType: types.StringType, Computed: true,
				MarkdownDescription: "User tags (ownership tags excluded).",
			},
			"disabled": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the identity is disabled."},
			"enrolled": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the identity has enrolled."},
			"managed":  schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether agentmesh manages the identity (carries its ownership tags)."},
		},
	}
}

func (d *identityDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("id"), path.MatchRoot("name")),
	}
}

func (d *identityDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *identityDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var cfg identityDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var (
		o    *reconciler.ObservedIdentity
		err  error
		what string
	)
	if !cfg.ID.IsNull() {
		what = "id " + cfg.ID.ValueString()
		o, err = d.engine.ObserveIdentity(ctx, cfg.ID.ValueString())
	} else {
		what = "name " + cfg.Name.ValueString()
		o, err = d.engine.FindIdentityByName(ctx, cfg.Name.ValueString())
	}
	if errors.Is(err, controller.ErrNotFound) {
		resp.Diagnostics.AddError("Identity not found", "No identity with "+what+" exists on the controller. Check the spelling, or create it with the agentmesh_identity resource.")
		return
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot read identity with "+what, err)
		return
	}
	var full identityModel
	full.observed(ctx, o, &resp.Diagnostics)
	state := identityDataModel{
		ID: full.ID, Name: full.Name, Organization: full.Organization, Kind: full.Kind,
		RoleAttributes: full.RoleAttributes, AuthPolicy: full.AuthPolicy, Disabled: full.Disabled,
		Tags: full.Tags, EnrollmentExpiresAt: full.EnrollmentExpiresAt, Enrolled: full.Enrolled,
		Managed: full.Managed,
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}
