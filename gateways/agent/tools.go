package agent

import (
	"context"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/mcpfront"
)

// unknownTools lists the running gateway's tools through its access and
// names the routes' allow patterns that match none: the first apply that
// reaches the gateway is the first moment anyone can know. A listing that
// still fails after 20 s is itself the warning.
func unknownTools(ctx context.Context, t *gateways.Table, addr string) []string {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "agentmesh-agent", Version: "v1"}, nil)
	var cs *mcp.ClientSession
	for {
		var err error
		cs, err = c.Connect(ctx, &mcp.SSEClientTransport{Endpoint: "http://" + addr + "/sse", HTTPClient: &http.Client{}},
			// mcp-gateway v0.1.3 speaks this version and refuses newer
			// clients' server/discover probe with HTTP 400.
			&mcp.ClientSessionOptions{ProtocolVersion: "2025-06-18"})
		if err == nil {
			break
		}
		// The gateway says it serves once its share listens; the edge
		// router learns of it a moment later, and until then the
		// access answers 502.
		select {
		case <-ctx.Done():
			return []string{"could not list the gateway's tools to check the routes' tool names: " + err.Error()}
		case <-time.After(500 * time.Millisecond):
		}
	}
	defer cs.Close()
	var names []string
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return []string{"could not list the gateway's tools to check the routes' tool names: " + err.Error()}
		}
		names = append(names, tool.Name)
	}
	return mcpfront.UnknownTools(t, names)
}
