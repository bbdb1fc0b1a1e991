package reconciler

import (
	"context"
	"fmt"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/config"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// kindRun is the marker a run writes before its first change: one config
// per way in (agentmesh.run.apply, agentmesh.run.reconcile), updated by
// every run. Its change event carries the run and, like every change, the
// identity that wrote it; the audit trail attributes what that identity
// writes next to the run. It carries no ownership tag: no resource owns
// it and no destroy removes it.
var kindRun = &configKind{
	typeName: "agentmesh.run.v1", prefix: "agentmesh.run.", label: "run",
	schema: strictObj([]string{"via", "run", "started"}, map[string]any{
		"via": map[string]any{"enum": []string{"apply", "reconcile"}}, "run": map[string]any{"type": "string", "maxLength": 200},
		"started": map[string]any{"type": "string", "format": "date-time"},
	}),
}

// RunPrefix starts the name of every run marker config.
const RunPrefix = "agentmesh.run."

// MarkRuns makes the engine's next writes one run of the given way in
// ("apply" or "reconcile"), announced on the controller before its first
// write. It returns the run's id.
func (e *Engine) MarkRuns(via string) string {
	run := controller.RunID(via)
	e.c.SetRun(func(ctx context.Context) error { return e.markRun(ctx, via, run) })
	return run
}

// markRun writes the marker. It runs inside another write's request, which
// may hold the engine's locks (a config type being created), so it takes
// none of them.
func (e *Engine) markRun(ctx context.Context, via, run string) error {
	typeID, err := e.resolveConfigType(ctx, kindRun)
	if err != nil {
		return err
	}
	name := kindRun.prefix + via
	data := map[string]any{"via": via, "run": run, "started": time.Now().UTC().Format(time.RFC3339Nano)}
	tags := &rest_model.Tags{SubTags: rest_model.SubTags{TagKind: kindRun.label}}
	for attempt := 0; attempt < 2; attempt++ {
		filter := fmt.Sprintf("name = %s", quoteFilter(name))
		found, err := listAll(ctx, func(limit, offset *int64) ([]*rest_model.ConfigDetail, *rest_model.Meta, error) {
			r, err := e.c.API.Config.ListConfigs(config.NewListConfigsParamsWithContext(ctx).WithFilter(&filter).WithLimit(limit).WithOffset(offset), nil)
			if err != nil {
				return nil, nil, controller.Explain(err, "looking up the run marker")
			}
			return r.Payload.Data, r.Payload.Meta, nil
		})
		if err != nil {
			return err
		}
		if len(found) > 0 {
			_, err = e.c.API.Config.UpdateConfig(config.NewUpdateConfigParamsWithContext(ctx).WithID(deref(found[0].ID)).WithConfig(&rest_model.ConfigUpdate{
				Name: ptr(name), Data: data, Tags: tags,
			}), nil)
			return controller.Explain(err, "updating the run marker")
		}
		_, err = e.c.API.Config.CreateConfig(config.NewCreateConfigParamsWithContext(ctx).WithConfig(&rest_model.ConfigCreate{
			Name: ptr(name), ConfigTypeID: ptr(typeID), Data: data, Tags: tags,
		}), nil)
		if err == nil {
			return nil
		}
		// Another run created it meanwhile: update it instead.
		err = controller.Explain(err, "creating the run marker")
		if attempt == 1 {
			return err
		}
	}
	return nil
}
