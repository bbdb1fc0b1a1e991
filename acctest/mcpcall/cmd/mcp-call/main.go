// Command mcp-call is the demo's MCP client over Ziti: as one enrolled
// identity, it opens an MCP session on a data-plane service, lists the
// tools it is shown and calls some. It says so, and exits 3, when the
// identity cannot see the service at all.
//
//	mcp-call -identity researcher.json -service agentmesh.mcp.demo-tools.demo-researcher \
//	  -call notes_read_note -call notes_write_note
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/openziti/sdk-golang/ziti"
)

type calls []string

func (c *calls) String() string     { return strings.Join(*c, ",") }
func (c *calls) Set(v string) error { *c = append(*c, v); return nil }

func main() {
	identity := flag.String("identity", "", "the enrolled identity file")
	service := flag.String("service", "", "the data-plane service to dial")
	var tools calls
	flag.Var(&tools, "call", "a tool to call with {\"name\": \"welcome\"} (repeatable)")
	flag.Parse()
	if err := run(*identity, *service, tools); err != nil {
		fmt.Fprintln(os.Stderr, "mcp-call:", err)
		os.Exit(1)
	}
}

func run(identity, service string, tools []string) error {
	cfg, err := ziti.NewConfigFromFile(identity)
	if err != nil {
		return err
	}
	z, err := ziti.NewContext(cfg)
	if err != nil {
		return err
	}
	defer z.Close()
	if err := z.RefreshServices(); err != nil {
		return err
	}
	if _, ok := z.GetService(service); !ok {
		fmt.Printf("%s cannot see service %s: the network lists no such service to it, so there is nothing to dial\n", strings.TrimSuffix(filepath.Base(identity), ".json"), service)
		os.Exit(3)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true, DialContext: func(context.Context, string, string) (net.Conn, error) {
		return z.Dial(service)
	}}}
	c := mcp.NewClient(&mcp.Implementation{Name: "mcp-call", Version: "v1"}, nil)
	cs, err := c.Connect(ctx, &mcp.SSEClientTransport{Endpoint: "http://mcp/sse", HTTPClient: hc}, nil)
	if err != nil {
		return err
	}
	defer cs.Close()
	var names []string
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return err
		}
		names = append(names, t.Name)
	}
	fmt.Printf("tools/list: %s\n", strings.Join(names, ", "))
	for _, name := range tools {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: map[string]any{"name": "welcome"}})
		if err != nil {
			fmt.Printf("tools/call %s: refused: %v\n", name, err)
			continue
		}
		var text []string
		for _, c := range res.Content {
			if t, ok := c.(*mcp.TextContent); ok {
				text = append(text, t.Text)
			}
		}
		fmt.Printf("tools/call %s: %s\n", name, strings.Join(text, " "))
	}
	return nil
}
