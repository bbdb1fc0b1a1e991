package mcpgateway_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/acctest/standin/mcpgateway"
)

const backend = "backends:\n  - id: fs\n    transport:\n"

// invalid are configs the real mcp-gateway v0.1.3 refuses to load, each
// for one rule of its loader.
var invalid = map[string]string{
	"no backends":                    "aggregator:\n  name: x\n",
	"empty backend id":               "backends:\n  - id: \"\"\n    transport:\n      type: stdio\n      command: x\n",
	"duplicate backend id":           "backends:\n  - id: a\n    transport: {type: stdio, command: x}\n  - id: a\n    transport: {type: stdio, command: y}\n",
	"no transport type":              backend + "      command: x\n",
	"unknown transport type":         backend + "      type: websocket\n      endpoint: ws://x\n",
	"stdio without command":          backend + "      type: stdio\n",
	"zrok without token":             backend + "      type: zrok\n",
	"http without endpoint":          backend + "      type: http\n      allow_insecure: true\n",
	"http endpoint not a URL":        backend + "      type: http\n      endpoint: not-a-url\n      allow_insecure: true\n",
	"https with http scheme":         backend + "      type: https\n      endpoint: http://127.0.0.1:1/sse\n",
	"http with ftp scheme":           backend + "      type: http\n      endpoint: ftp://127.0.0.1/sse\n      allow_insecure: true\n",
	"http:// without allow_insecure": backend + "      type: http\n      endpoint: http://127.0.0.1:1/sse\n",
	"tls on an http:// endpoint":     backend + "      type: http\n      endpoint: http://127.0.0.1:1/sse\n      allow_insecure: true\n      tls:\n        insecure_skip_verify: true\n",
	"unknown protocol":               backend + "      type: https\n      endpoint: https://127.0.0.1:1/sse\n      protocol: grpc\n",
	"unknown tool mode":              backend + "      type: stdio\n      command: x\n    tools:\n      mode: block\n",
	"not YAML":                       "backends: [\n",
}

// TestStandInRefusesWhatTheRealGatewayRefuses feeds the same invalid
// configs to the real mcp-gateway and to the stand-in's own checks: both
// must refuse every one.
func TestStandInRefusesWhatTheRealGatewayRefuses(t *testing.T) {
	dir := t.TempDir()
	for name, cfg := range invalid {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(dir, strings.NewReplacer(" ", "-", "/", "", ":", "").Replace(name)+".yml")
			if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := acctest.LoadWithRealMCPGateway(context.Background(), file)
			if !errors.Is(err, mcpgateway.ErrRealRefused) {
				t.Fatalf("the real mcp-gateway did not refuse it (%v); this case tests nothing:\n%s", err, out)
			}
			if _, err := mcpgateway.Load(file); err == nil {
				t.Fatalf("the stand-in accepts a config the real gateway refuses: %s", lastLine(out))
			}
		})
	}
}

// TestStandInRefusesMore: what crashes the real gateway after loading (a
// zero heartbeat) or what it would silently ignore (a misspelt key) is
// refused too.
func TestStandInRefusesMore(t *testing.T) {
	for name, cfg := range map[string]string{
		"zero heartbeat": "orchestrator:\n  heartbeat_interval: 0s\n" + backend + "      type: stdio\n      command: x\n",
		"misspelt key":   backend + "      type: stdio\n      comand: x\n",
	} {
		file := filepath.Join(t.TempDir(), "c.yml")
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := mcpgateway.Load(file); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}
