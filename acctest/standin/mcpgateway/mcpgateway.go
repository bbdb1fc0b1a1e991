// Package mcpgateway is the stand-in for openziti/mcp-gateway v0.1.3 where
// the real one cannot run here: it serves MCP only as a zrok share, so
// without a zrok environment it exits after discovering its backends. The
// stand-in fills in only that: a process that keeps running on a loaded
// config, says it is serving the way the real one does, and serves
// /health on MCP_STANDIN_HEALTH for tests.
//
// It must never accept what the real gateway refuses. Load applies the
// real loader's rules (gateway.LoadConfig and aggregator.Validate of
// v0.1.3), and more: unknown keys are fatal (the real one ignores them),
// and so are a zero heartbeat interval (it panics the real one) and
// durations it cannot parse. acctest/standin/mcpgateway's tests feed the
// same invalid configs to both and expect both to refuse them.
package mcpgateway

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/agentmesh/agentmesh/acctest/standin/refschema"
)

// ServingLine is what mcp-gateway logs once its share is up: the agent's
// supervisor waits for it, so the stand-in prints it too.
const ServingLine = "serving mcp over zrok share"

// Load reads and checks a configuration file.
func Load(file string) (*refschema.MCP, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("failed to load config: %w", err)
	}
	var c refschema.MCP
	if err := refschema.Decode(b, &c); err != nil {
		return nil, fmt.Errorf("failed to load config: %s: %w", file, err)
	}
	if err := validate(&c); err != nil {
		return nil, fmt.Errorf("failed to load config: %w", err)
	}
	return &c, nil
}

func validate(c *refschema.MCP) error {
	if len(c.Backends) == 0 {
		return errors.New("backends: at least one backend is required")
	}
	if o := c.Orchestrator; o != nil {
		if d, err := time.ParseDuration(o.HeartbeatInterval); err != nil || d <= 0 {
			return fmt.Errorf("orchestrator.heartbeat_interval %q: must be a positive duration (0 panics mcp-gateway v0.1.3)", o.HeartbeatInterval)
		}
	}
	if cn := c.Aggregator.Connection; cn != nil {
		for name, v := range map[string]string{"connect_timeout": cn.ConnectTimeout, "call_timeout": cn.CallTimeout} {
			if _, err := time.ParseDuration(v); v != "" && err != nil {
				return fmt.Errorf("aggregator.connection.%s %q: not a duration", name, v)
			}
		}
	}
	seen := map[string]bool{}
	for i, b := range c.Backends {
		field := func(f string) string { return fmt.Sprintf("backends[%d].%s", i, f) }
		if b.ID == "" {
			return fmt.Errorf("%s: backend id is required", field("id"))
		}
		if seen[b.ID] {
			return fmt.Errorf("%s: duplicate backend id '%s'", field("id"), b.ID)
		}
		seen[b.ID] = true
		tr := b.Transport
		switch tr.Type {
		case "":
			return fmt.Errorf("%s: transport type is required", field("transport.type"))
		case "stdio":
			if tr.Command == "" {
				return fmt.Errorf("%s: command is required for stdio transport", field("transport.command"))
			}
		case "zrok":
			if tr.ShareToken == "" {
				return fmt.Errorf("%s: share_token is required for zrok transport", field("transport.share_token"))
			}
		case "http", "https":
			if tr.Endpoint == "" {
				return fmt.Errorf("%s: endpoint is required for %s transport", field("transport.endpoint"), tr.Type)
			}
			u, err := url.Parse(tr.Endpoint)
			if err != nil || u.Scheme == "" || u.Host == "" {
				return fmt.Errorf("%s: invalid endpoint url for '%s' transport", field("transport.endpoint"), tr.Type)
			}
			switch {
			case tr.Type == "https" && u.Scheme != "https":
				return fmt.Errorf("%s: endpoint scheme must be 'https' for https transport", field("transport.endpoint"))
			case tr.Type == "http" && u.Scheme != "http" && u.Scheme != "https":
				return fmt.Errorf("%s: endpoint scheme must be 'http' or 'https' for http transport", field("transport.endpoint"))
			case tr.Type == "http" && u.Scheme == "http" && !tr.AllowInsecure:
				return fmt.Errorf("%s: allow_insecure must be true for http endpoints", field("transport.allow_insecure"))
			case tr.Type == "http" && u.Scheme == "http" && tr.TLS != nil:
				return fmt.Errorf("%s: tls configuration is only valid for https endpoints", field("transport.tls"))
			}
			if tr.Protocol != "" && tr.Protocol != "sse" && tr.Protocol != "streamable" {
				return fmt.Errorf("%s: unsupported protocol '%s', must be 'sse' or 'streamable'", field("transport.protocol"), tr.Protocol)
			}
		default:
			return fmt.Errorf("%s: unsupported transport type '%s', must be 'stdio', 'zrok', 'https', or 'http'", field("transport.type"), tr.Type)
		}
		if m := b.Tools.Mode; m != "" && m != "allow" && m != "deny" {
			return fmt.Errorf("%s: invalid tool filter mode '%s', must be 'allow' or 'deny'", field("tools.mode"), m)
		}
	}
	return nil
}
