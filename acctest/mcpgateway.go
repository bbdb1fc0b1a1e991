package acctest

import (
	"context"

	"github.com/agentmesh/agentmesh/acctest/standin/mcpgateway"
)

// LoadWithRealMCPGateway has the real mcp-gateway v0.1.3 (bin/mcp-gateway)
// load file; see mcpgateway.RealLoad.
func LoadWithRealMCPGateway(ctx context.Context, file string) (string, error) {
	bin, err := Gateway("mcp-gateway")
	if err != nil {
		return "", err
	}
	return mcpgateway.RealLoad(ctx, bin, file)
}
