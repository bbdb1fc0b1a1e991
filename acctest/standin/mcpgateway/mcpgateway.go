// Package mcpgateway is a strict stand-in for openziti/mcp-gateway v0.1.3.
// It reads its YAML with the exact reference schema (unknown keys are
// fatal), refuses what crashes or fails the real one (no backend, a zero
// heartbeat interval, duplicate backend ids), and — because the real one
// has no TCP listener — serves /health on the address in
// MCP_STANDIN_HEALTH for tests.
package mcpgateway

import (
	"errors"
	"fmt"
	"os"

	"github.com/agentmesh/agentmesh/acctest/standin/refschema"
)

// Load reads and strictly checks a configuration file.
func Load(file string) (*refschema.MCP, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var c refschema.MCP
	if err := refschema.Decode(b, &c); err != nil {
		return nil, fmt.Errorf("config %s: %w", file, err)
	}
	if len(c.Backends) == 0 {
		return nil, errors.New("no backends: mcp-gateway fails to start")
	}
	if c.Orchestrator != nil && (c.Orchestrator.HeartbeatInterval == "" || c.Orchestrator.HeartbeatInterval == "0" || c.Orchestrator.HeartbeatInterval == "0s") {
		return nil, errors.New("orchestrator.heartbeat_interval of 0 panics mcp-gateway v0.1.3")
	}
	seen := map[string]bool{}
	for _, b := range c.Backends {
		if b.ID == "" || seen[b.ID] {
			return nil, fmt.Errorf("backend id %q is empty or repeated", b.ID)
		}
		seen[b.ID] = true
	}
	return &c, nil
}
