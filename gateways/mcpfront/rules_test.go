package mcpfront

import (
	"slices"
	"strings"
	"testing"

	"github.com/agentmesh/agentmesh/gateways"
)

func TestRules(t *testing.T) {
	table := &gateways.Table{Kind: gateways.KindMCP,
		MCPRoutes: []gateways.MCPRoute{
			{Namespace: "notes", Tools: gateways.ToolFilter{Mode: "allow", List: []string{"read_*", "list_*"}}},
			{Namespace: "fs", Tools: gateways.ToolFilter{Mode: "deny", List: []string{"delete_*"}}},
			{Namespace: "a", Tools: gateways.ToolFilter{Mode: "allow", List: []string{"b_*"}}},
			{Namespace: "a_b", Tools: gateways.ToolFilter{Mode: "deny", List: []string{"c"}}},
			{Namespace: "open"},
		},
		Members: []gateways.Member{
			{Identity: "analyst", Namespaces: []string{"notes", "fs"}},
			{Identity: "both", Namespaces: []string{"a", "a_b"}},
			{Identity: "only-a", Namespaces: []string{"a"}},
			{Identity: "opener", Namespaces: []string{"open"}},
		}}
	r := RulesOf(table)
	for _, c := range []struct {
		identity, tool string
		ok             bool
		why            string
	}{
		{"analyst", "notes_read_note", true, ""},
		{"analyst", "notes_write_note", false, `route "notes" allows only read_*, list_*`},
		{"analyst", "fs_read_file", true, ""},
		{"analyst", "fs_delete_file", false, `route "fs" denies delete_*`},
		{"analyst", "open_anything", false, `route "open" does not serve it`},
		{"analyst", "nowhere_tool", false, "no route of this gateway has that namespace"},
		{"analyst", "notes_", false, "no route"},
		{"stranger", "notes_read_note", false, `route "notes" does not serve it`},
		{"opener", "open_anything", true, ""},
		// a_b_d can only be a's tool b_d (a_b has no tool "d"?): the
		// front cannot tell, so both candidates must allow it.
		{"both", "a_b_d", true, ""},
		// a_b_c is a's "b_c" (allowed) or a_b's "c" (denied): deny wins.
		{"both", "a_b_c", false, `route "a_b" denies c`},
		// a member of a alone may not reach what could be a_b's tool.
		{"only-a", "a_b_d", false, `route "a_b" does not serve it`},
	} {
		ok, why := r.Allows(c.identity, c.tool)
		if ok != c.ok || !strings.Contains(why, c.why) {
			t.Errorf("Allows(%s, %s) = %v %q, want %v containing %q", c.identity, c.tool, ok, why, c.ok, c.why)
		}
	}
	if !r.Serves("analyst") || r.Serves("stranger") {
		t.Error("Serves: a member must be served and a stranger not")
	}
	dot := RulesOf(&gateways.Table{MCP: &gateways.MCPSettings{Separator: "."}, MCPRoutes: table.MCPRoutes[:1], Members: table.Members[:1]})
	if ok, _ := dot.Allows("analyst", "notes.read_note"); !ok {
		t.Error("the gateway's own separator must be used")
	}
	if ok, _ := dot.Allows("analyst", "notes_read_note"); ok {
		t.Error("the default separator must not apply when the gateway sets another")
	}
}

// TestPermits pins the front's filter to mcp-gateway v0.1.3's own rule.
func TestPermits(t *testing.T) {
	for _, c := range []struct {
		f    gateways.ToolFilter
		tool string
		want bool
	}{
		{gateways.ToolFilter{}, "x", true},
		{gateways.ToolFilter{Mode: "allow", List: []string{"read_*"}}, "read_file", true},
		{gateways.ToolFilter{Mode: "allow", List: []string{"read_*"}}, "write_file", false},
		{gateways.ToolFilter{Mode: "deny", List: []string{"read_*"}}, "read_file", false},
		{gateways.ToolFilter{Mode: "deny", List: []string{"read_*"}}, "write_file", true},
		{gateways.ToolFilter{Mode: "allow", List: []string{"[bad"}}, "[bad", true},
		{gateways.ToolFilter{Mode: "allow", List: []string{"[bad"}}, "bad", false},
	} {
		if got := Permits(c.f, c.tool); got != c.want {
			t.Errorf("Permits(%+v, %q) = %v, want %v", c.f, c.tool, got, c.want)
		}
	}
}

func TestUnknownTools(t *testing.T) {
	table := &gateways.Table{Kind: gateways.KindMCP, MCP: &gateways.MCPSettings{Separator: "."},
		MCPRoutes: []gateways.MCPRoute{
			{Namespace: "notes", Tools: gateways.ToolFilter{Mode: "allow", List: []string{"read_*", "summarize_note", "list_notes"}}},
			{Namespace: "fs", Tools: gateways.ToolFilter{Mode: "deny", List: []string{"no_such_tool"}}},
			{Namespace: "empty", Tools: gateways.ToolFilter{Mode: "allow", List: []string{"x"}}},
		}}
	got := UnknownTools(table, []string{"notes.read_note", "notes.list_notes", "fs.read_file", "notes_x.summarize_note"})
	want := []string{
		`mcp route "notes": tool "summarize_note" matches no tool its backend serves (it serves read_note, list_notes)`,
		`mcp route "empty": tool "x" matches no tool its backend serves (it serves none that the route allows)`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("unknown tools\n got %q\nwant %q", got, want)
	}
}
