package agent_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways/agent"
)

// TestExampleAgentConfigsLoad keeps the documented agent configurations
// valid.
func TestExampleAgentConfigsLoad(t *testing.T) {
	root, err := acctest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	llm, err := agent.LoadConfig(filepath.Join(root, "examples/gateway-agent/llm-agent.yaml"))
	if err != nil || llm.Kind != "llm" || llm.Listen != "127.0.0.1:8080" {
		t.Fatalf("llm example: %+v %v", llm, err)
	}
	mcp, err := agent.LoadConfig(filepath.Join(root, "examples/gateway-agent/mcp-agent.yaml"))
	if err != nil || mcp.Kind != "mcp" || mcp.StartTimeout != 90*time.Second {
		t.Fatalf("mcp example: %+v %v", mcp, err)
	}
}
