package gateways_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentmesh/agentmesh/acctest"
)

// TestRealMCPGatewayLoadsEveryGolden: every rendered MCP golden is loaded
// by the real mcp-gateway v0.1.3. Without a zrok environment it then gets
// as far as discovering the golden's (absent) backends, which proves the
// loader accepted the file.
func TestRealMCPGatewayLoadsEveryGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/mcp-*.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("mcp goldens: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out, err := acctest.LoadWithRealMCPGateway(context.Background(), f)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(out, "failed to discover tools") {
				t.Fatalf("the real gateway did not get to tool discovery, so its loader was never passed:\n%s", out)
			}
		})
	}
}
