// Package mcpfront is the MCP gateway's data-plane front: its rules and
// the relay that applies them, served by the gateway agent. mcp-gateway
// filters tools per backend, not per client, and anyone holding its share
// reaches every tool; the front sits between each audience identity's dark
// service and the share and applies that identity's view: tools/list shows
// only the tools its routes allow, and a tools/call outside them is
// refused with a JSON-RPC error that names the rule.
package mcpfront

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/agentmesh/agentmesh/gateways"
)

// Rules are who may use which tools on one mcp gateway.
type Rules struct {
	separator string
	routes    []gateways.MCPRoute // by namespace, longest first
	members   map[string]map[string]bool
}

// RulesOf reads the rules from an mcp gateway's table.
func RulesOf(t *gateways.Table) *Rules {
	r := &Rules{separator: "_", members: map[string]map[string]bool{}}
	if t.MCP != nil && t.MCP.Separator != "" {
		r.separator = t.MCP.Separator
	}
	r.routes = slices.Clone(t.MCPRoutes)
	sort.SliceStable(r.routes, func(i, j int) bool { return len(r.routes[i].Namespace) > len(r.routes[j].Namespace) })
	for _, m := range t.Members {
		ns := map[string]bool{}
		for _, n := range m.Namespaces {
			ns[n] = true
		}
		r.members[m.Identity] = ns
	}
	return r
}

// Serves says whether the identity may use any route at all.
func (r *Rules) Serves(identity string) bool { return len(r.members[identity]) > 0 }

// Allows says whether identity may list and call tool (the gateway's
// namespaced name) and, when not, which rule refuses it.
//
// A name can belong to more than one route when one namespace plus the
// separator starts another's (namespace "a" with tool "b_c", and "a_b"
// with tool "c", are both "a_b_c"). The gateway itself keeps one of them,
// and the front cannot tell which, so the name is allowed only if every
// route it could belong to allows it to this identity: deny wins.
func (r *Rules) Allows(identity, tool string) (bool, string) {
	granted := r.members[identity]
	found := false
	for _, rt := range r.routes {
		name, ok := strings.CutPrefix(tool, rt.Namespace+r.separator)
		if !ok || name == "" {
			continue
		}
		found = true
		if !granted[rt.Namespace] {
			return false, fmt.Sprintf("tool %q is outside the view of identity %q: route %q does not serve it (not in the route's audience)", tool, identity, rt.Namespace)
		}
		if !Permits(rt.Tools, name) {
			return false, fmt.Sprintf("tool %q is outside the view of identity %q: route %q %s", tool, identity, rt.Namespace, describe(rt.Tools))
		}
	}
	if !found {
		return false, fmt.Sprintf("tool %q is outside the view of identity %q: no route of this gateway has that namespace", tool, identity)
	}
	return true, ""
}

func describe(f gateways.ToolFilter) string {
	if f.Mode == "deny" {
		return "denies " + strings.Join(f.List, ", ")
	}
	return "allows only " + strings.Join(f.List, ", ")
}

// Permits is mcp-gateway v0.1.3's own filter rule, so the front never
// shows a tool the gateway would hide or hides one it serves: an empty
// list permits everything; patterns are path.Match globs, and a pattern
// that is not a valid glob matches only itself.
func Permits(f gateways.ToolFilter, tool string) bool {
	if len(f.List) == 0 {
		return true
	}
	in := false
	for _, p := range f.List {
		ok, err := path.Match(p, tool)
		if (err != nil && p == tool) || (err == nil && ok) {
			in = true
			break
		}
	}
	if f.Mode == "deny" {
		return !in
	}
	return in
}

// UnknownTools names each allow-list pattern of the table's routes that
// matches none of the tools the gateway lists (its namespaced names): a
// tool the backend does not have, or a typo. mcp-gateway hides denied
// tools, so deny lists cannot be checked this way.
func UnknownTools(t *gateways.Table, listed []string) []string {
	sep := "_"
	if t.MCP != nil && t.MCP.Separator != "" {
		sep = t.MCP.Separator
	}
	var out []string
	for _, rt := range t.MCPRoutes {
		if rt.Tools.Mode != "allow" {
			continue
		}
		var have []string
		for _, name := range listed {
			if tool, ok := strings.CutPrefix(name, rt.Namespace+sep); ok {
				have = append(have, tool)
			}
		}
		for _, p := range rt.Tools.List {
			if !slices.ContainsFunc(have, func(tool string) bool {
				return Permits(gateways.ToolFilter{Mode: "allow", List: []string{p}}, tool)
			}) {
				out = append(out, fmt.Sprintf("mcp route %q: tool %q matches no tool its backend serves (it serves %s)", rt.Namespace, p, orNone(have)))
			}
		}
	}
	return out
}

func orNone(tools []string) string {
	if len(tools) == 0 {
		return "none that the route allows"
	}
	return strings.Join(tools, ", ")
}
