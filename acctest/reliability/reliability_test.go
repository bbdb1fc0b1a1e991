package reliability

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestReliability runs every scenario once (make reliability runs more
// trials and seeds) and holds each to the same bar: converged, no
// duplicates, no orphans, no lost state, no secret in any log.
func TestReliability(t *testing.T) {
	var progress strings.Builder
	res, err := Run(context.Background(), Options{Trials: 1, Seed: 1, Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var table strings.Builder
	Print(&table, res)
	t.Log("\n" + table.String())
	if len(res.Rows) != len(scenarios) {
		t.Fatalf("ran %d scenarios, want %d", len(res.Rows), len(scenarios))
	}
	failed := false
	for _, r := range res.Rows {
		if r.Converged != r.Trials || r.Duplicates != 0 || r.Orphans != 0 || r.Lost != 0 || r.Errors != 0 {
			t.Errorf("%s: %+v", r.Scenario, r)
			failed = true
		}
	}
	if failed {
		t.Log("progress:\n" + progress.String())
	}
	if res.SecretsFound != 0 || res.SecretsKnown < 3 {
		t.Errorf("secret scan: %d found of %d known", res.SecretsFound, res.SecretsKnown)
	}
	for _, r := range res.Rows {
		switch {
		case strings.HasPrefix(r.Scenario, "429") && r.Retries == 0:
			t.Errorf("the storm caused no retries: the scenario proved nothing (%s)", r.Note)
		case strings.HasPrefix(r.Scenario, "controller restart") && r.Retries == 0:
			t.Errorf("the restart met no request of the apply: the scenario proved nothing")
		case strings.HasPrefix(r.Scenario, "API session") && r.Reauths == 0:
			t.Errorf("no session was revoked mid-run: the scenario proved nothing")
		}
	}
	if path := os.Getenv("AGENTMESH_RELIABILITY_TABLE"); path != "" {
		_ = os.WriteFile(path, []byte(table.String()), 0o644)
	}
}
