package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/reconciler"
)

var (
	_ ephemeral.EphemeralResource              = (*enrollmentTokenResource)(nil)
	_ ephemeral.EphemeralResourceWithConfigure = (*enrollmentTokenResource)(nil)
)

// NewEnrollmentTokenResource is the agentmesh_enrollment_token ephemeral
// resource.
func NewEnrollmentTokenResource() ephemeral.EphemeralResource { return &enrollmentTokenResource{} }

type enrollmentTokenResource struct{ engine *reconciler.Engine }

type enrollmentTokenModel struct {
	Identity   types.String `tfsdk:"identity"`
	TTLMinutes types.Int64  `tfsdk:"ttl_minutes"`
	JWT        types.String `tfsdk:"jwt"`
	ExpiresAt  types.String `tfsdk:"expires_at"`
	Enrolled   types.Bool   `tfsdk:"enrolled"`
}

func (r *enrollmentTokenResource) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_enrollment_token"
}

func (r *enrollmentTokenResource) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The one-time enrollment token of an identity that has not enrolled yet, without ever putting it in the state " +
			"(an ephemeral resource: Terraform and OpenTofu 1.11 or later). It is the identity's current token while that is valid for at least another minute; " +
			"an expired, unused token is replaced by a new one valid for `ttl_minutes`, so an identity never has to be replaced to get a fresh token. " +
			"Once the identity has enrolled, `jwt` is null and `enrolled` true. Hand `jwt` to a provisioner, an ephemeral output of a module or a write-only " +
			"argument, and set `keep_enrollment_jwt = false` on the identity so its own copy stays out of the state too.",
		Attributes: map[string]schema.Attribute{
			"identity": schema.StringAttribute{Required: true, MarkdownDescription: "Id of the identity (`agentmesh_identity.<name>.id`)."},
			"ttl_minutes": schema.Int64Attribute{Optional: true, MarkdownDescription: "How long the token is valid, in minutes (default 60, at most 43200: 30 days).",
				Validators: []validator.Int64{int64validator.Between(1, 43200)}},
			"jwt":        schema.StringAttribute{Computed: true, Sensitive: true, MarkdownDescription: "The one-time enrollment token, for `ziti edge enroll` or a tunneller."},
			"expires_at": schema.StringAttribute{Computed: true, MarkdownDescription: "When the token stops working (RFC 3339); null once enrolled."},
			"enrolled":   schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the identity has enrolled (then there is no token to hand out)."},
		},
	}
}

func (r *enrollmentTokenResource) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	r.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *enrollmentTokenResource) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m enrollmentTokenModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ttl := time.Hour
	if !m.TTLMinutes.IsNull() {
		ttl = time.Duration(m.TTLMinutes.ValueInt64()) * time.Minute
	}
	en, err := r.engine.IssueEnrollment(ctx, m.Identity.ValueString(), ttl)
	if err != nil {
		addError(&resp.Diagnostics, "Cannot issue an enrollment token for identity "+m.Identity.ValueString(), err)
		return
	}
	m.JWT, m.ExpiresAt, m.Enrolled = types.StringNull(), types.StringNull(), types.BoolValue(en == nil)
	if en != nil {
		m.JWT, m.ExpiresAt = types.StringValue(en.JWT), types.StringValue(en.ExpiresAt.UTC().Format(time.RFC3339))
	}
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}
