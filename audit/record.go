// Package audit is the trail of who reached what, under which grant, and
// which change granted or revoked it: the record shape, the append-only
// trail file and the questions answered from it. It is pure: it reads and
// writes files, never the controller, so the follower that feeds it
// (audit/follow) and the questions asked of it are tested apart.
package audit

import "time"

// Kinds of records.
const (
	KindSessionCreated = "session.created"
	KindSessionDeleted = "session.deleted"
	KindCircuitCreated = "circuit.created"
	KindCircuitClosed  = "circuit.closed"
	KindCircuitFailed  = "circuit.failed"
	KindAccessGranted  = "access.granted"
	KindAccessRevoked  = "access.revoked"
	KindLLMRequest     = "llm.request"
	// KindTrailGap marks a span the trail could not see: the controller's
	// event stream has no replay, so facts of sessions and circuits that
	// began and ended while the follower was down are not in the trail.
	// Access changes in a gap are still recorded, from the difference of
	// the access graphs on either side, attributed to nothing finer.
	KindTrailGap = "trail.gap"
)

// Record is one line of the trail.
type Record struct {
	// Seq numbers records in the trail, from 1, with no holes.
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	// Key identifies the fact the record is about, so a fact seen twice
	// (a follower restarted before it saved its cursor) is written once.
	Key string `json:"key"`
	// Source is where the fact came from: "controller", or
	// "gateway/<name>" for a gateway front.
	Source   string   `json:"source"`
	Identity *Party   `json:"identity,omitempty"`
	Service  *Service `json:"service,omitempty"`
	Grant    *Grant   `json:"grant,omitempty"`
	Change   *Change  `json:"change,omitempty"`
	LLM      *LLM     `json:"llm,omitempty"`
	Circuit  *Circuit `json:"circuit,omitempty"`
	Gap      *Gap     `json:"gap,omitempty"`
	Session  string   `json:"session,omitempty"` // the edge session's id (never its token)
	Note     string   `json:"note,omitempty"`
}

// Party is an identity as the network verified it: the controller's own
// record of who held the session, never a name the caller chose.
type Party struct {
	ID           string `json:"id"`
	Name         string `json:"name,omitempty"`
	Organization string `json:"organization,omitempty"`
}

// Service is a Ziti service resolved to what agentmesh calls it.
type Service struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Kind is "endpoint" or "gateway" ("" for a service agentmesh does
	// not manage); Owner is the endpoint's or gateway's name.
	Kind         string `json:"kind,omitempty"`
	Owner        string `json:"owner,omitempty"`
	Organization string `json:"organization,omitempty"`
}

// Grant is the intent that allowed the access when it happened.
type Grant struct {
	Workgroups []string `json:"workgroups,omitempty"`
	Contract   string   `json:"contract,omitempty"`
	Approval   string   `json:"approval,omitempty"`
	Routes     []string `json:"routes,omitempty"`
	// None is set when the intent in force granted nothing: the access
	// came from something agentmesh does not manage (a hand-made policy).
	None bool `json:"none,omitempty"`
	// Approximate: the fact was read long after it happened (older than
	// the follower's 15 minutes of history) and is joined with the oldest
	// intent the follower held, not the intent of its moment.
	Approximate bool `json:"approximate,omitempty"`
}

// Change attributes an access change to the writes that made it.
type Change struct {
	// Via is "apply" (the Terraform provider), "reconcile" (agentmesh
	// reconcile), "unattributed" (a write without agentmesh's trace, such
	// as a hand edit) or "gap" (seen only by comparing the access graph
	// across a gap).
	Via string `json:"via"`
	// Run is the trace id of the run that wrote, when there was one.
	Run string `json:"run,omitempty"`
	// By is the identity that made the writes, as the controller
	// authenticated it.
	By []Party `json:"by,omitempty"`
	// Intents are the intent changes of the run: "delete membership
	// macro-pulse/pulse-agent".
	Intents []string `json:"intents,omitempty"`
	// Objects are the derived objects that changed: "update identity
	// pulse-agent roles", "delete service-policy agentmesh.dial...".
	Objects []string `json:"objects,omitempty"`
}

// LLM is what a gateway front knows of one request.
type LLM struct {
	Route            string  `json:"route,omitempty"`
	Model            string  `json:"model,omitempty"`          // as requested
	ResolvedModel    string  `json:"resolved_model,omitempty"` // as answered
	Status           int     `json:"status"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	TotalTokens      int64   `json:"total_tokens"`
	LatencyMS        float64 `json:"latency_ms"`
	Stream           bool    `json:"stream,omitempty"`
	BytesIn          int64   `json:"bytes_in"`
	BytesOut         int64   `json:"bytes_out"`
	// Aborted: the answer was cut short (the caller left, the gateway
	// failed); the tokens are what was charged by then.
	Aborted bool `json:"aborted,omitempty"`
}

// Circuit is what the controller reports of one circuit.
type Circuit struct {
	ID         string  `json:"id"`
	DurationMS float64 `json:"duration_ms,omitempty"`
	Failure    string  `json:"failure,omitempty"`
}

// Gap is a span the follower was not listening.
type Gap struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}
