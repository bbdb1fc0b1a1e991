package follow

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/agentmesh/agentmesh/audit"
	"github.com/agentmesh/agentmesh/reconciler"
	"github.com/agentmesh/agentmesh/reconciler/derive"
)

// event is what the follower reads of a controller event (ziti v1.6's
// session, circuit and entityChange events). A session event also
// carries the session's token: it is never read, so it cannot reach the
// trail.
type event struct {
	Namespace string    `json:"namespace"`
	Timestamp time.Time `json:"timestamp"`
	EventType string    `json:"event_type"`
	// session
	SessionType string `json:"session_type"`
	ID          string `json:"id"`
	IdentityID  string `json:"identity_id"`
	ServiceID   string `json:"service_id"`
	// circuit
	CircuitID    string            `json:"circuit_id"`
	Duration     *int64            `json:"duration"` // nanoseconds
	FailureCause *string           `json:"failure_cause"`
	Tags         map[string]string `json:"tags"`
	// entityChange
	ChangeType string `json:"eventType"`
	Metadata   struct {
		Author *audit.Party `json:"author"`
	} `json:"metadata"`
	EntityType   string          `json:"entityType"`
	IsParent     *bool           `json:"isParentEvent"`
	InitialState json.RawMessage `json:"initialState"`
	FinalState   json.RawMessage `json:"finalState"`
}

// entity is what the follower reads of an entity's state.
type entity struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	RoleAttributes []string        `json:"roleAttributes"`
	Disabled       bool            `json:"disabled"`
	Data           json.RawMessage `json:"data"`
}

// change describes one entity change in agentmesh's terms: an intent
// change ("delete membership macro-pulse/pulse-agent") or a derived
// object's ("update identity pulse-agent roles"). Changes to objects
// agentmesh does not own describe as "".
func (ev *event) change(n names) (intentChange, derived string) {
	var before, after entity
	_ = json.Unmarshal(ev.InitialState, &before)
	_ = json.Unmarshal(ev.FinalState, &after)
	e := after
	if e.ID == "" {
		e = before
	}
	verb := map[string]string{"created": "create", "updated": "update", "deleted": "delete"}[ev.ChangeType]
	if verb == "" || (ev.IsParent != nil && *ev.IsParent) {
		return "", ""
	}
	switch ev.EntityType {
	case "configs":
		if what := describeIntent(e, n); what != "" {
			return verb + " " + what, ""
		}
		if strings.HasPrefix(e.Name, "agentmesh.") {
			return "", verb + " config " + e.Name
		}
	case "identities":
		switch {
		case verb != "update":
			return verb + " identity " + e.Name, ""
		case before.Disabled != after.Disabled:
			return fmt.Sprintf("update identity %s disabled=%t", e.Name, after.Disabled), ""
		case !sameSet(derivedRoles(before.RoleAttributes), derivedRoles(after.RoleAttributes)):
			return "", fmt.Sprintf("update identity %s roles %v -> %v", e.Name, derivedRoles(before.RoleAttributes), derivedRoles(after.RoleAttributes))
		}
	case "servicePolicies":
		if strings.HasPrefix(e.Name, "agentmesh.") {
			return "", verb + " service-policy " + e.Name
		}
	case "services":
		if strings.HasPrefix(e.Name, "agentmesh.") {
			return "", verb + " service " + e.Name
		}
		if verb != "update" {
			// An endpoint's service is its intent object.
			return verb + " service " + e.Name, ""
		}
	}
	return "", ""
}

// names resolves ids in the networks observed before and after a change:
// a created identity is only in the later one, a deleted one only in the
// earlier.
type names []*derive.Network

func (ns names) identity(id string) string {
	for _, n := range ns {
		if n == nil {
			continue
		}
		if o, ok := n.Identities[id]; ok {
			return o.Name
		}
	}
	return id
}

func (ns names) endpoint(id string) string {
	for _, n := range ns {
		if n == nil {
			continue
		}
		if o, ok := n.Endpoints[id]; ok {
			return o.Name
		}
	}
	return id
}

// describeIntent names an intent config: "membership <workgroup>/<identity>".
func describeIntent(e entity, n names) string {
	var data map[string]any
	_ = json.Unmarshal(e.Data, &data)
	str := func(k string) string { s, _ := data[k].(string); return s }
	name := n.identity
	for _, k := range []struct{ prefix, label string }{
		{"agentmesh.workgroup.", "workgroup"}, {"agentmesh.contract.", "contract"}, {derive.EndpointConfigPrefix, "endpoint"},
		{"agentmesh.gateway.", "gateway"}, {"agentmesh.llm-route.", "llm-route"}, {"agentmesh.mcp-route.", "mcp-route"},
	} {
		if rest, ok := strings.CutPrefix(e.Name, k.prefix); ok {
			return k.label + " " + rest
		}
	}
	if strings.HasPrefix(e.Name, "agentmesh.membership.") {
		return "membership " + str("workgroup") + "/" + name(str("identity"))
	}
	if strings.HasPrefix(e.Name, "agentmesh.approval.") {
		return "approval " + n.endpoint(str("endpoint")) + "/" + name(str("consumer"))
	}
	return ""
}

func derivedRoles(rs []string) []string {
	var out []string
	for _, r := range rs {
		if derive.IsDerivedRole(r) {
			out = append(out, r)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

// runMarker reads a run marker's change: the run an identity starts.
func (ev *event) runMarker() (via, run string, ok bool) {
	if ev.EntityType != "configs" || ev.ChangeType == "deleted" {
		return "", "", false
	}
	var e entity
	if json.Unmarshal(ev.FinalState, &e) != nil || !strings.HasPrefix(e.Name, reconciler.RunPrefix) {
		return "", "", false
	}
	var d struct{ Via, Run string }
	if json.Unmarshal(e.Data, &d) != nil || d.Run == "" {
		return "", "", false
	}
	return d.Via, d.Run, true
}
