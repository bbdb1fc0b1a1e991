package provider

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/reconciler"
)

// checkString adapts one of the reconciler's pure checks to a plan-time
// string validator, so Terraform and the reconciler agree on what is valid.
type checkString struct {
	desc  string
	check func(string) error
}

var _ validator.String = checkString{}

func (v checkString) Description(context.Context) string         { return v.desc }
func (v checkString) MarkdownDescription(context.Context) string { return v.desc }

func (v checkString) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(),
			"The value of "+req.Path.String()+" "+err.Error()+".")
	}
}

// secretText refuses a write-only value with surrounding white space or
// control characters (a token read with file() keeps its newline) without
// ever quoting the value: such a value would otherwise fail on the
// gateway host, where the error could carry it.
var secretText = checkString{"a secret without surrounding white space or control characters", func(v string) error {
	if strings.TrimSpace(v) != v || strings.ContainsFunc(v, unicode.IsControl) || v == "" {
		return errors.New("must not be empty, have surrounding white space (trim a value read with file(), for example with trimspace()) or hold control characters")
	}
	return nil
}}

// plannedTrue plans a computed flag as true, so an object whose observed
// value is false (not yet owned) shows a diff and gets fixed by apply.
type plannedTrue struct{}

var _ planmodifier.Bool = plannedTrue{}

func (plannedTrue) Description(context.Context) string { return "always planned as true" }
func (plannedTrue) MarkdownDescription(context.Context) string {
	return "always planned as true"
}

func (plannedTrue) PlanModifyBool(_ context.Context, req planmodifier.BoolRequest, resp *planmodifier.BoolResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	resp.PlanValue = types.BoolValue(true)
}

// convergedAttribute exposes drift on derived objects (policies, roles) as
// a plan diff: Read reports false when they differ, the plan says true,
// and apply converges.
func convergedAttribute() rschema.BoolAttribute {
	return rschema.BoolAttribute{
		Computed: true,
		MarkdownDescription: "Whether the objects agentmesh derives from this one (service policies, workgroup roles) match it. " +
			"`false` after someone edits or deletes them by hand; the next apply repairs them.",
		PlanModifiers: []planmodifier.Bool{plannedTrue{}},
	}
}

// gatewayConvergedAttribute is convergedAttribute for a gateway, whose
// derived objects are its data plane and the table its agent runs.
func gatewayConvergedAttribute() rschema.BoolAttribute {
	return rschema.BoolAttribute{
		Computed: true,
		MarkdownDescription: "Whether the gateway's data plane (each audience identity's dark service, its policies, the shared intercept) " +
			"and the table its running agent last applied match the routes, memberships and identities. `false` after someone edits " +
			"the data plane by hand, or when an audience changed while the agent was not running; the next apply (or `agentmesh reconcile`) repairs it.",
		PlanModifiers: []planmodifier.Bool{plannedTrue{}},
	}
}

func converged(ctx context.Context, e *reconciler.Engine, owner string, diags *diag.Diagnostics) types.Bool {
	drifted, err := e.Drifted(ctx, owner)
	if err != nil {
		addError(diags, "Cannot check derived objects of "+owner, err)
		return types.BoolValue(false)
	}
	return types.BoolValue(!drifted)
}
