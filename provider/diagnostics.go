package provider

import (
	"errors"

	"github.com/hashicorp/terraform-plugin-framework/diag"
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

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
