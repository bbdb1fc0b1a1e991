// Command mcp-notes is a small real MCP server on stdio, written with the
// official go-sdk, for tests of the real mcp-gateway: it keeps notes in
// memory and offers four tools, read_note, list_notes, write_note and
// delete_note, so allow and deny filters have something to leave out.
// `mcp-notes --fail` exits at once, as a backend that is down does.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type noteArgs struct {
	Name string `json:"name" jsonschema:"the note's name"`
}

type writeArgs struct {
	Name string `json:"name" jsonschema:"the note's name"`
	Text string `json:"text" jsonschema:"what the note says"`
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--fail" {
		fmt.Fprintln(os.Stderr, "mcp-notes: asked to fail")
		os.Exit(1)
	}
	var mu sync.Mutex
	notes := map[string]string{"welcome": "notes are served by mcp-notes"}
	s := mcp.NewServer(&mcp.Implementation{Name: "mcp-notes", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "read_note", Description: "read one note"}, func(_ context.Context, _ *mcp.CallToolRequest, a noteArgs) (*mcp.CallToolResult, any, error) {
		mu.Lock()
		defer mu.Unlock()
		n, ok := notes[a.Name]
		if !ok {
			return nil, nil, fmt.Errorf("no note %q", a.Name)
		}
		return text(n), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "list_notes", Description: "list the notes' names"}, func(_ context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		mu.Lock()
		defer mu.Unlock()
		var names []string
		for n := range notes {
			names = append(names, n)
		}
		slices.Sort(names)
		return text(strings.Join(names, "\n")), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "write_note", Description: "write a note"}, func(_ context.Context, _ *mcp.CallToolRequest, a writeArgs) (*mcp.CallToolResult, any, error) {
		mu.Lock()
		defer mu.Unlock()
		notes[a.Name] = a.Text
		return text("written"), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "delete_note", Description: "delete a note"}, func(_ context.Context, _ *mcp.CallToolRequest, a noteArgs) (*mcp.CallToolResult, any, error) {
		mu.Lock()
		defer mu.Unlock()
		delete(notes, a.Name)
		return text("deleted"), nil, nil
	})
	if err := s.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		log.Fatal(err)
	}
}
