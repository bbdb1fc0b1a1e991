package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/reconciler"
)

// byName is a data source that looks one governance object up by name and
// fills the same model its resource uses.
type byName[M any] struct {
	typeName    string
	description string
	attrs       map[string]schema.Attribute
	nameCheck   validator.String
	read        func(ctx context.Context, e *reconciler.Engine, name string, m *M, diags *diag.Diagnostics)
	engine      *reconciler.Engine
}

func (d *byName[M]) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_" + d.typeName
}

func (d *byName[M]) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	attrs := map[string]schema.Attribute{
		"name": schema.StringAttribute{Required: true, MarkdownDescription: "Name to look up.", Validators: []validator.String{d.nameCheck}},
		"id":   schema.StringAttribute{Computed: true, MarkdownDescription: "Id on the controller."},
	}
	for k, v := range d.attrs {
		attrs[k] = v
	}
	resp.Schema = schema.Schema{MarkdownDescription: d.description, Attributes: attrs}
}

func (d *byName[M]) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *byName[M]) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var name types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("name"), &name)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var m M
	d.read(ctx, d.engine, name.ValueString(), &m, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func computedString(desc string) schema.StringAttribute {
	return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
}

func computedSet(desc string) schema.SetAttribute {
	return schema.SetAttribute{ElementType: types.StringType, Computed: true, MarkdownDescription: desc}
}

func notFound(diags *diag.Diagnostics, what, name string, err error) {
	addError(diags, "Cannot find "+what+" "+name, err)
}

// NewWorkgroupDataSource is the agentmesh_workgroup data source.
func NewWorkgroupDataSource() datasource.DataSource {
	return &byName[workgroupModel]{
		typeName: "workgroup", description: "Looks up a workgroup by name.", nameCheck: labelValidator,
		attrs: map[string]schema.Attribute{
			"description":                 computedString("What the workgroup is for."),
			"owner_organization":          computedString("The owning organisation."),
			"participating_organizations": computedSet("Other organisations whose identities may join."),
			"role":                        computedString("The Ziti role `#wg.<name>`."),
		},
		read: func(ctx context.Context, e *reconciler.Engine, name string, m *workgroupModel, diags *diag.Diagnostics) {
			s, err := e.FindWorkgroup(ctx, name)
			if err != nil {
				notFound(diags, "workgroup", name, err)
				return
			}
			m.observed(ctx, s, diags)
		},
	}
}

// NewContractDataSource is the agentmesh_contract data source.
func NewContractDataSource() datasource.DataSource {
	limit := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{Computed: true, MarkdownDescription: desc + " 0 means no cap."}
	}
	return &byName[contractModel]{
		typeName: "contract", description: "Looks up a contract's terms by name.", nameCheck: labelValidator,
		attrs: map[string]schema.Attribute{
			"owner_organization":    computedString("The owning organisation."),
			"description":           computedString("What the contract is for."),
			"max_duration_seconds":  limit("Longest session, in seconds."),
			"max_message_count":     limit("Most messages in one session."),
			"max_message_bytes":     limit("Largest message, in bytes."),
			"allowed_message_types": computedSet("Allowed message types (`*` = all)."),
			"required_workgroups":   computedSet("Workgroups every dialer must belong to."),
			"access_mode":           computedString("`open` or `approval_required`."),
		},
		read: func(ctx context.Context, e *reconciler.Engine, name string, m *contractModel, diags *diag.Diagnostics) {
			s, err := e.FindContract(ctx, name)
			if err != nil {
				notFound(diags, "contract", name, err)
				return
			}
			m.observed(ctx, s, diags)
		},
	}
}

// NewEndpointDataSource is the agentmesh_endpoint data source.
func NewEndpointDataSource() datasource.DataSource {
	return &byName[endpointModel]{
		typeName: "endpoint", description: "Looks up an endpoint by its service name.", nameCheck: nameValidator,
		attrs: map[string]schema.Attribute{
			"hosting":     computedString("`guarded` (behind `agentmesh endpoint-guard`) or `direct`."),
			"host":        computedString("Id of the hosting identity."),
			"workgroups":  computedSet("Workgroup scopes."),
			"contract":    computedString("Name of the contract."),
			"description": computedString("What the endpoint offers."),
			"capabilities": schema.ListNestedAttribute{Computed: true, MarkdownDescription: "Capabilities offered.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name": computedString("Capability name."), "description": computedString("What it does."),
				}}},
			"interaction_patterns": computedSet("Interaction patterns."),
			"converged":            schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether the endpoint's derived policies match it."},
			"intercept": schema.SingleNestedAttribute{Computed: true, MarkdownDescription: "What dialers' tunnellers intercept.",
				Attributes: map[string]schema.Attribute{
					"protocols": computedSet("Protocols."), "addresses": computedSet("Addresses."),
					"port": schema.Int64Attribute{Computed: true, MarkdownDescription: "Port."},
				}},
			"host_address": schema.SingleNestedAttribute{Computed: true, MarkdownDescription: "Where the host's tunneller forwards.",
				Attributes: map[string]schema.Attribute{
					"protocol": computedString("Protocol."), "address": computedString("Address."),
					"port": schema.Int64Attribute{Computed: true, MarkdownDescription: "Port."},
				}},
		},
		read: func(ctx context.Context, e *reconciler.Engine, name string, m *endpointModel, diags *diag.Diagnostics) {
			o, err := e.FindEndpoint(ctx, name)
			if err != nil {
				notFound(diags, "endpoint", name, err)
				return
			}
			m.observed(ctx, o, diags)
			m.Converged = converged(ctx, e, "endpoint/"+o.ServiceID, diags)
		},
	}
}

var (
	_ datasource.DataSourceWithConfigure = (*byName[workgroupModel])(nil)
	_ datasource.DataSourceWithConfigure = (*byName[contractModel])(nil)
	_ datasource.DataSourceWithConfigure = (*byName[endpointModel])(nil)
)
