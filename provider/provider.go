// Package provider is the agentmesh Terraform/OpenTofu provider: schemas and
// the thin adapter between Terraform values and the reconciler's intent.
package provider

import (
	"context"
	"errors"
	"os"

	"github.com/hashicorp/terraform-plugin-framework-validators/providervalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/agentmesh/agentmesh/reconciler"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

var (
	_ provider.Provider                       = (*Provider)(nil)
	_ provider.ProviderWithConfigValidators   = (*Provider)(nil)
	_ provider.ProviderWithEphemeralResources = (*Provider)(nil)
)

// Provider is the agentmesh provider.
type Provider struct {
	version string
}

// New returns a constructor for the provider server.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &Provider{version: version} }
}

type providerModel struct {
	Endpoint         types.String `tfsdk:"endpoint"`
	Username         types.String `tfsdk:"username"`
	Password         types.String `tfsdk:"password"`
	IdentityFile     types.String `tfsdk:"identity_file"`
	IdentityJSON     types.String `tfsdk:"identity_json"`
	CAPEM            types.String `tfsdk:"ca_pem"`
	CAFile           types.String `tfsdk:"ca_file"`
	FetchWellKnownCA types.Bool   `tfsdk:"fetch_well_known_ca"`
	Insecure         types.Bool   `tfsdk:"insecure"`
	MaxRetries       types.Int64  `tfsdk:"max_retries"`
	GatewayTimeout   types.Int64  `tfsdk:"gateway_timeout_seconds"`
}

func (p *Provider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "agentmesh"
	resp.Version = p.version
}

func (p *Provider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The agentmesh provider declares a governed AI-agent network on an " +
			"[OpenZiti](https://openziti.io) controller: agent identities, workgroups, engagement contracts, " +
			"endpoints and gateway routes.\n\n" +
			"Authenticate with an **identity file** (certificate authentication, recommended) or with a " +
			"username and password. TLS to the controller is always verified: the CA comes from `ca_pem`, " +
			"`ca_file`, the identity file, or the system trust store. Every setting can also come from an " +
			"`AGENTMESH_*` environment variable; a setting in the configuration beats the environment, and so does a " +
			"choice among alternatives: a configured `identity_file`, `identity_json` or `username` ignores every " +
			"`AGENTMESH_*` credential, and a configured `ca_pem` or `ca_file` every `AGENTMESH_*` CA. " +
			"`agentmesh reconcile` reads the same variables with the same rules.",
		Attributes: map[string]schema.Attribute{
			"endpoint": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Controller URL, `https://host:port` or the management API URL " +
					"`https://host:port/edge/management/v1`. Defaults to the `ztAPI` of the identity file. " +
					"Env: `AGENTMESH_ENDPOINT`.",
			},
			"username": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Username for password authentication. Env: `AGENTMESH_USERNAME`.",
			},
			"password": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "Password for password authentication. Env: `AGENTMESH_PASSWORD`.",
			},
			"identity_file": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Path of an enrolled Ziti identity JSON file of an admin identity " +
					"(certificate authentication). Env: `AGENTMESH_IDENTITY_FILE`.",
			},
			"identity_json": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "The content of an enrolled Ziti identity JSON file, for pipelines that hold it in a secret store. Env: `AGENTMESH_IDENTITY_JSON`.",
			},
			"ca_pem": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "PEM bundle of the CA(s) that sign the controller's certificate. Env: `AGENTMESH_CA_PEM`.",
			},
			"ca_file": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Path of a PEM bundle of the controller's CA(s). Env: `AGENTMESH_CA_FILE`.",
			},
			"fetch_well_known_ca": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Trust the CA bundle the controller serves at `/.well-known/est/cacerts` " +
					"(trust on first use; a warning is shown). Prefer `ca_pem`. Env: `AGENTMESH_FETCH_WELL_KNOWN_CA`.",
			},
			"insecure": schema.BoolAttribute{
				Optional: true,
				MarkdownDescription: "Skip TLS verification of the controller. Only for throw-away labs; a warning " +
					"is shown. Env: `AGENTMESH_INSECURE`.",
			},
			"gateway_timeout_seconds": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "How long a route apply waits for a gateway agent to answer before it fails (the route " +
					"stays recorded; the next apply or `agentmesh reconcile` delivers it). Default 30. Env: `AGENTMESH_GATEWAY_TIMEOUT_SECONDS`.",
			},
			"max_retries": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "How often one request is retried on a transient failure (connection refused, " +
					"HTTP 429/502/503/504), with exponential backoff. Default 8. Env: `AGENTMESH_MAX_RETRIES`.",
			},
		},
	}
}

func (p *Provider) ConfigValidators(context.Context) []provider.ConfigValidator {
	return []provider.ConfigValidator{
		providervalidator.Conflicting(path.MatchRoot("identity_file"), path.MatchRoot("identity_json")),
		providervalidator.Conflicting(path.MatchRoot("ca_pem"), path.MatchRoot("ca_file")),
		providervalidator.Conflicting(path.MatchRoot("insecure"), path.MatchRoot("fetch_well_known_ca")),
		providervalidator.Conflicting(path.MatchRoot("username"), path.MatchRoot("identity_file")),
		providervalidator.Conflicting(path.MatchRoot("username"), path.MatchRoot("identity_json")),
	}
}

// settings are the configuration's own values; unset ones are nil, and
// the environment fills them in (controller.Load).
func (m *providerModel) settings() controller.Settings {
	str := func(v types.String) *string {
		if v.IsNull() || v.IsUnknown() {
			return nil
		}
		s := v.ValueString()
		return &s
	}
	boolean := func(v types.Bool) *bool {
		if v.IsNull() || v.IsUnknown() {
			return nil
		}
		b := v.ValueBool()
		return &b
	}
	integer := func(v types.Int64) *int64 {
		if v.IsNull() || v.IsUnknown() {
			return nil
		}
		n := v.ValueInt64()
		return &n
	}
	return controller.Settings{Endpoint: str(m.Endpoint), Username: str(m.Username), Password: str(m.Password),
		IdentityFile: str(m.IdentityFile), IdentityJSON: str(m.IdentityJSON), CAPEM: str(m.CAPEM), CAFile: str(m.CAFile),
		FetchWellKnownCA: boolean(m.FetchWellKnownCA), Insecure: boolean(m.Insecure),
		MaxRetries: integer(m.MaxRetries), GatewayTimeout: integer(m.GatewayTimeout)}
}

func (p *Provider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	tflog.Info(ctx, "configuring the agentmesh provider", map[string]any{"version": p.version})
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for name, v := range map[string]types.String{"endpoint": m.Endpoint, "username": m.Username, "password": m.Password,
		"identity_file": m.IdentityFile, "identity_json": m.IdentityJSON, "ca_pem": m.CAPEM, "ca_file": m.CAFile} {
		if v.IsUnknown() {
			resp.Diagnostics.AddAttributeError(path.Root(name), "Provider setting not known yet",
				"The provider's "+name+" depends on a value that is only known after apply. Apply the resources it depends on first (-target), or pass it as a variable.")
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}

	loaded, err := controller.Load(m.settings(), os.Getenv)
	if err != nil {
		var se *controller.SettingError
		if errors.As(err, &se) {
			resp.Diagnostics.AddAttributeError(path.Root(se.Setting), "Invalid provider setting "+se.Setting, se.Err.Error())
		} else {
			resp.Diagnostics.AddError("Invalid provider settings", err.Error())
		}
		return
	}
	cfg := loaded.Config
	if cfg.Insecure {
		resp.Diagnostics.AddWarning("TLS verification is disabled",
			"insecure = true: the provider does not verify the controller's certificate. Anyone on the network path can impersonate the controller and capture credentials. Set ca_pem or ca_file instead.")
	}
	if cfg.FetchWellKnownCA && len(cfg.CAPEM) == 0 {
		resp.Diagnostics.AddWarning("Trusting the controller's self-served CA",
			"fetch_well_known_ca = true: the CA bundle is fetched from the controller itself without verification (trust on first use). Pin it with ca_pem or ca_file for production.")
	}

	log := newLogger()
	client, err := controller.New(ctx, cfg, log)
	if err != nil {
		resp.Diagnostics.AddError("Cannot configure the agentmesh provider", err.Error())
		return
	}
	engine := reconciler.New(client, log)
	engine.SetGatewayTimeout(loaded.GatewayTimeout)
	// Before its first write, the run announces itself: the audit trail
	// tells an apply from a reconcile by it.
	engine.MarkRuns("apply")
	resp.ResourceData = engine
	resp.DataSourceData = engine
	resp.EphemeralResourceData = engine
}

func (p *Provider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewIdentityResource, NewWorkgroupResource, NewMembershipResource, NewContractResource, NewEndpointResource, NewApprovalResource, NewGatewayResource, NewLLMRouteResource, NewMCPRouteResource}
}

func (p *Provider) EphemeralResources(context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{NewEnrollmentTokenResource}
}

func (p *Provider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewIdentityDataSource, NewAccessDataSource, NewWorkgroupDataSource, NewContractDataSource, NewEndpointDataSource, NewGatewayUsageDataSource}
}
