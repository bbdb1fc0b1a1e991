package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/agentmesh/agentmesh/reconciler"
)

var (
	_ resource.Resource                = (*endpointResource)(nil)
	_ resource.ResourceWithConfigure   = (*endpointResource)(nil)
	_ resource.ResourceWithImportState = (*endpointResource)(nil)
)

// NewEndpointResource is the agentmesh_endpoint resource.
func NewEndpointResource() resource.Resource { return &endpointResource{} }

type endpointResource struct{ engine *reconciler.Engine }

type endpointModel struct {
	Converged           types.Bool   `tfsdk:"converged"`
	ID                  types.String `tfsdk:"id"`
	Name                types.String `tfsdk:"name"`
	Host                types.String `tfsdk:"host"`
	Workgroups          types.Set    `tfsdk:"workgroups"`
	Contract            types.String `tfsdk:"contract"`
	Description         types.String `tfsdk:"description"`
	Capabilities        types.List   `tfsdk:"capabilities"`
	InteractionPatterns types.Set    `tfsdk:"interaction_patterns"`
	Intercept           types.Object `tfsdk:"intercept"`
	HostAddress         types.Object `tfsdk:"host_address"`
	Hosting             types.String `tfsdk:"hosting"`
}

type interceptModel struct {
	Protocols types.Set   `tfsdk:"protocols"`
	Addresses types.Set   `tfsdk:"addresses"`
	Port      types.Int64 `tfsdk:"port"`
}

type hostAddressModel struct {
	Protocol types.String `tfsdk:"protocol"`
	Address  types.String `tfsdk:"address"`
	Port     types.Int64  `tfsdk:"port"`
}

var (
	interceptType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"protocols": types.SetType{ElemType: types.StringType}, "addresses": types.SetType{ElemType: types.StringType}, "port": types.Int64Type,
	}}
	hostAddressType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"protocol": types.StringType, "address": types.StringType, "port": types.Int64Type,
	}}
	portValidators = []validator.Int64{int64validator.Between(1, 65535)}
)

type capabilityModel struct {
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
}

var capabilityType = types.ObjectType{AttrTypes: map[string]attr.Type{"name": types.StringType, "description": types.StringType}}

func (r *endpointResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_endpoint"
}

func (r *endpointResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "An agent's dark service (Agora's *advertisement*), hosted by one identity. Only members of " +
			"its workgroups who also meet its contract's `required_workgroups` can dial it, or even see it listed: " +
			"agentmesh derives one Bind policy for the host and one AllOf Dial policy per workgroup " +
			"(`#wg.<scope>` plus every `#wg.<required>`), and the apply returns once they exist on the controller. " +
			"The contract's terms and the capabilities travel with the service as its configs. Under an `approval_required` " +
			"contract only consumers with an `agentmesh_engagement_approval` can dial it.\n\n" +
			"What enforces each contract term: `required_workgroups` and `access_mode` the network itself, through the Dial " +
			"policies, in the same apply. `max_message_bytes`, `max_message_count`, `allowed_message_types` and " +
			"`max_duration_seconds` only `agentmesh endpoint-guard`, when the host runs it (`hosting = \"guarded\"`): it closes " +
			"a violating session at once, and a session at its cap within milliseconds. With `hosting = \"direct\"` nothing " +
			"enforces them: the apply that creates the endpoint warns term by term, and so does every plan of its contract.",
		Attributes: map[string]schema.Attribute{
			"converged": convergedAttribute(),
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "Id of the endpoint's Ziti service.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required: true, MarkdownDescription: "Unique service name on the network. Renaming updates in place.",
				Validators: []validator.String{nameValidator},
			},
			"host": schema.StringAttribute{
				Required: true, MarkdownDescription: "Id of the identity that hosts (binds) the service.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"workgroups": schema.SetAttribute{
				ElementType: types.StringType, Required: true,
				MarkdownDescription: "The workgroups whose members may see and dial the endpoint (at least one).",
				Validators:          []validator.Set{setvalidator.SizeAtLeast(1), setvalidator.ValueStringsAre(labelValidator)},
			},
			"contract": schema.StringAttribute{
				Required: true, MarkdownDescription: "Name of the contract whose terms apply to its sessions (see `hosting` for which are enforced).",
				Validators: []validator.String{labelValidator},
			},
			"hosting": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("direct"),
				MarkdownDescription: "How the host serves the endpoint: `guarded` behind `agentmesh endpoint-guard --identity <host> --endpoint <name> " +
					"--forward <agent address>`, which enforces the contract's message and duration terms on newline-delimited JSON " +
					"messages, or `direct` (default), where the agent binds the service itself and those terms are not enforced (the " +
					"contract's plans and the apply that creates the endpoint warn). `guarded` is the host's declaration: the network does not check that the guard is what binds the service.",
				Validators: []validator.String{stringvalidator.OneOf(reconciler.Hostings...)},
			},
			"description": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(""),
				MarkdownDescription: "What the endpoint offers.",
			},
			"capabilities": schema.ListNestedAttribute{
				Optional: true, Computed: true,
				Default:             listdefault.StaticValue(types.ListValueMust(capabilityType, nil)),
				MarkdownDescription: "Capabilities offered, as shown to authorised dialers.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":        schema.StringAttribute{Required: true, MarkdownDescription: "Capability name.", Validators: []validator.String{nameValidator}},
					"description": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(""), MarkdownDescription: "What it does."},
				}},
			},
			"interaction_patterns": schema.SetAttribute{
				ElementType: types.StringType, Optional: true, Computed: true,
				Default:             setdefault.StaticValue(types.SetValueMust(types.StringType, nil)),
				MarkdownDescription: "Any of `request-response`, `stream`, `broadcast`, `custom`.",
				Validators:          []validator.Set{setvalidator.ValueStringsAre(stringvalidator.OneOf(reconciler.InteractionPatterns...))},
			},
			"intercept": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "What the tunnellers of authorised dialers intercept for this endpoint " +
					"(realised as a derived `intercept.v1` config). Omit for SDK-only endpoints.",
				Attributes: map[string]schema.Attribute{
					"protocols": schema.SetAttribute{
						ElementType: types.StringType, Optional: true, Computed: true,
						Default:             setdefault.StaticValue(types.SetValueMust(types.StringType, []attr.Value{types.StringValue("tcp")})),
						MarkdownDescription: "`tcp` (default), `udp`, or both.",
						Validators:          []validator.Set{setvalidator.SizeAtLeast(1), setvalidator.ValueStringsAre(stringvalidator.OneOf(reconciler.Protocols...))},
					},
					"addresses": schema.SetAttribute{
						ElementType: types.StringType, Required: true,
						MarkdownDescription: "Host names, IPs or CIDRs to intercept, for example `equity-feed.macro.ziti`.",
						Validators:          []validator.Set{setvalidator.SizeAtLeast(1)},
					},
					"port": schema.Int64Attribute{Required: true, MarkdownDescription: "Port to intercept.", Validators: portValidators},
				},
			},
			"host_address": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "Where the host's tunneller forwards the endpoint's traffic (realised as a derived `host.v1` config). " +
					"Omit when the host binds the service with an SDK.",
				Attributes: map[string]schema.Attribute{
					"protocol": schema.StringAttribute{
						Optional: true, Computed: true, Default: stringdefault.StaticString("tcp"),
						MarkdownDescription: "`tcp` (default) or `udp`.",
						Validators:          []validator.String{stringvalidator.OneOf(reconciler.Protocols...)},
					},
					"address": schema.StringAttribute{Required: true, MarkdownDescription: "Address the host forwards to, usually `127.0.0.1`."},
					"port":    schema.Int64Attribute{Required: true, MarkdownDescription: "Port the host forwards to.", Validators: portValidators},
				},
			},
		},
	}
}

func (r *endpointResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.engine = engineFrom(req.ProviderData, &resp.Diagnostics)
}

func (m *endpointModel) intent(ctx context.Context, diags *diag.Diagnostics) *reconciler.Endpoint {
	ep := &reconciler.Endpoint{Name: m.Name.ValueString(), Host: m.Host.ValueString(), Contract: m.Contract.ValueString(), Description: m.Description.ValueString(),
		Hosting: m.Hosting.ValueString()}
	diags.Append(m.Workgroups.ElementsAs(ctx, &ep.Workgroups, false)...)
	diags.Append(m.InteractionPatterns.ElementsAs(ctx, &ep.InteractionPatterns, false)...)
	var caps []capabilityModel
	diags.Append(m.Capabilities.ElementsAs(ctx, &caps, false)...)
	for _, c := range caps {
		ep.Capabilities = append(ep.Capabilities, reconciler.Capability{Name: c.Name.ValueString(), Description: c.Description.ValueString()})
	}
	if !m.Intercept.IsNull() && !m.Intercept.IsUnknown() {
		var im interceptModel
		diags.Append(m.Intercept.As(ctx, &im, basetypes.ObjectAsOptions{})...)
		ep.Intercept = &reconciler.Intercept{Port: im.Port.ValueInt64()}
		diags.Append(im.Protocols.ElementsAs(ctx, &ep.Intercept.Protocols, false)...)
		diags.Append(im.Addresses.ElementsAs(ctx, &ep.Intercept.Addresses, false)...)
	}
	if !m.HostAddress.IsNull() && !m.HostAddress.IsUnknown() {
		var hm hostAddressModel
		diags.Append(m.HostAddress.As(ctx, &hm, basetypes.ObjectAsOptions{})...)
		ep.HostAddress = &reconciler.HostAddress{Protocol: hm.Protocol.ValueString(), Address: hm.Address.ValueString(), Port: hm.Port.ValueInt64()}
	}
	return ep
}

func (m *endpointModel) observed(ctx context.Context, o *reconciler.ObservedEndpoint, diags *diag.Diagnostics) {
	m.ID = types.StringValue(o.ServiceID)
	m.Converged = types.BoolValue(true)
	m.Name = types.StringValue(o.Name)
	m.Host = types.StringValue(o.Host)
	m.Contract = types.StringValue(o.Contract)
	m.Description = types.StringValue(o.Description)
	m.Hosting = types.StringValue("direct")
	if o.Hosting != "" {
		m.Hosting = types.StringValue(o.Hosting)
	}
	m.Workgroups = stringSet(ctx, o.Workgroups, diags)
	m.InteractionPatterns = stringSet(ctx, o.InteractionPatterns, diags)
	caps := make([]capabilityModel, 0, len(o.Capabilities))
	for _, c := range o.Capabilities {
		caps = append(caps, capabilityModel{Name: types.StringValue(c.Name), Description: types.StringValue(c.Description)})
	}
	var d diag.Diagnostics
	m.Capabilities, d = types.ListValueFrom(ctx, capabilityType, caps)
	diags.Append(d...)
	m.Intercept, m.HostAddress = types.ObjectNull(interceptType.AttrTypes), types.ObjectNull(hostAddressType.AttrTypes)
	if i := o.Intercept; i != nil {
		m.Intercept, d = types.ObjectValueFrom(ctx, interceptType.AttrTypes, interceptModel{
			Protocols: stringSet(ctx, i.Protocols, diags), Addresses: stringSet(ctx, i.Addresses, diags), Port: types.Int64Value(i.Port),
		})
		diags.Append(d...)
	}
	if h := o.HostAddress; h != nil {
		m.HostAddress, d = types.ObjectValueFrom(ctx, hostAddressType.AttrTypes, hostAddressModel{
			Protocol: types.StringValue(h.Protocol), Address: types.StringValue(h.Address), Port: types.Int64Value(h.Port),
		})
		diags.Append(d...)
	}
}

func (r *endpointResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan endpointModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := plan.intent(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	o, err := r.engine.CreateEndpoint(ctx, in)
	if o != nil {
		// Recorded even if convergence failed, so nothing is orphaned.
		plan.observed(ctx, o, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot create endpoint "+in.Name, err)
		return
	}
	// Its contract may have been created in this very apply, so the plan
	// could not name the terms yet: the apply does.
	warnUnenforced(o, &resp.Diagnostics)
}

func (r *endpointResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state endpointModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	o, err := r.engine.ObserveEndpoint(ctx, state.ID.ValueString())
	if gone(ctx, err, resp) {
		return
	}
	if err != nil {
		addError(&resp.Diagnostics, "Cannot read endpoint "+state.ID.ValueString(), err)
		return
	}
	state.observed(ctx, o, &resp.Diagnostics)
	state.Converged = converged(ctx, r.engine, "endpoint/"+o.ServiceID, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *endpointResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state endpointModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	in := plan.intent(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	o, err := r.engine.UpdateEndpoint(ctx, state.ID.ValueString(), in)
	if err != nil {
		addError(&resp.Diagnostics, "Cannot update endpoint "+in.Name, err)
		return
	}
	plan.observed(ctx, o, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if plan.Hosting.ValueString() != state.Hosting.ValueString() || plan.Contract.ValueString() != state.Contract.ValueString() {
		warnUnenforced(o, &resp.Diagnostics)
	}
}

func (r *endpointResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state endpointModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.engine.DeleteEndpoint(ctx, state.ID.ValueString()); err != nil {
		addError(&resp.Diagnostics, "Cannot delete endpoint "+state.Name.ValueString(), err)
	}
}

func (r *endpointResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByName(ctx, r.engine, reconciler.ImportEndpoint, req, resp)
}

func warnUnenforced(o *reconciler.ObservedEndpoint, diags *diag.Diagnostics) {
	for _, term := range o.Unenforced {
		diags.AddAttributeWarning(path.Root("hosting"), "Contract term "+term+" is not enforced on endpoint "+o.Name,
			"Contract "+o.Contract+" sets "+term+", but with hosting = \"direct\" nothing enforces it: the agent binds the "+
				"service itself. Run agentmesh endpoint-guard on the host and set hosting = \"guarded\", or drop the term from the contract.")
	}
}
