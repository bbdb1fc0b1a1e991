package provider

import (
	"context"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/agentmesh/agentmesh/reconciler"
	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// addError turns an engine error into a diagnostic whose detail says what to
// do, chosen by the error's named cause.
func addError(diags *diag.Diagnostics, summary string, err error) {
	hint := ""
	switch {
	case errors.Is(err, reconciler.ErrInvalidIntent):
		hint = "Fix the configuration; retrying will not help."
	case errors.Is(err, reconciler.ErrInUse):
		hint = "Remove or change the objects that depend on it first; Terraform orders this for you when they reference it."
	case errors.Is(err, reconciler.ErrNameTaken):
		hint = "Choose another name, or import the existing object."
	case errors.Is(err, controller.ErrAuth):
		hint = "Check the provider's credentials (username/password or identity) and that the identity is an admin."
	case errors.Is(err, controller.ErrUnreachable):
		hint = "The controller did not answer after bounded retries. Check that it is running and reachable, then apply again; nothing half-done is left behind."
	case errors.Is(err, controller.ErrConfig):
		hint = "Fix the provider configuration."
	}
	detail := err.Error()
	if hint != "" {
		detail += "\n\n" + hint
	}
	diags.AddError(summary, detail)
}

func optionalString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// gone handles a 404 in Read: the object was deleted outside Terraform, so
// it leaves the state and the next plan recreates it.
func gone(ctx context.Context, err error, resp *resource.ReadResponse) bool {
	if errors.Is(err, controller.ErrNotFound) {
		resp.State.RemoveResource(ctx)
		return true
	}
	return false
}

func stringSet(ctx context.Context, s []string, diags *diag.Diagnostics) types.Set {
	v, d := types.SetValueFrom(ctx, types.StringType, nonNil(s))
	diags.Append(d...)
	return v
}
