package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/agentmesh/agentmesh/reconciler"
)

// importByName imports by what a user knows: a name (an identity's,
// workgroup's, contract's, endpoint's or gateway's), a <parent>/<name>
// pair for memberships and routes, or the Ziti id. The reconciler resolves
// it to the id, or says what to look up.
func importByName(ctx context.Context, e *reconciler.Engine, kind string, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id, err := e.ResolveImport(ctx, kind, req.ID)
	if err != nil {
		addError(&resp.Diagnostics, "Cannot import "+kind+" "+req.ID, err)
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
}
