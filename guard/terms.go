// Package guard enforces an engagement contract's session terms on the
// host: it sits between the endpoint's dark service and the agent's local
// port, reads every message a dialer sends, and ends the session with a
// reason when one breaks a term. The network enforces who may dial; the
// guard enforces what a session may carry and for how long.
//
// Framing: a session carries newline-delimited JSON envelopes, one message
// per line, each an object with a string "type":
//
//	{"type":"quote.request","symbol":"ACME"}\n
//
// A message's size is its line's bytes without the newline. What the
// agent sends back is passed through unread. Before the guard closes a
// session it sends the dialer one last line,
//
//	{"type":"agentmesh.session.closed","reason":"contract_violation: max_message_bytes"}
//
// so the dialer knows why.
package guard

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// ContractConfigType is the service config that carries an endpoint's
// contract to the identities that may dial or host it.
const ContractConfigType = "agentmesh.contract.v1"

// MaxLine bounds a message when the contract sets no max_message_bytes,
// so one session cannot make the guard hold an unbounded line.
const MaxLine = 16 << 20

// Terms are the contract terms the guard enforces.
type Terms struct {
	MaxMessageBytes int64 // 0: MaxLine
	MaxMessageCount int64 // 0: no cap
	// AllowedTypes are the message types a dialer may send; "*" allows
	// every type (the envelope must still carry one).
	AllowedTypes []string
	MaxDuration  time.Duration // 0: no cap
}

// TermsFromConfig reads the terms from the contract config as the service
// carries it.
func TermsFromConfig(cfg map[string]any) (Terms, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return Terms{}, err
	}
	var c struct {
		Name                string   `json:"name"`
		MaxDurationSeconds  int64    `json:"max_duration_seconds"`
		MaxMessageCount     int64    `json:"max_message_count"`
		MaxMessageBytes     int64    `json:"max_message_bytes"`
		AllowedMessageTypes []string `json:"allowed_message_types"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return Terms{}, fmt.Errorf("the endpoint's contract config is not a contract: %w", err)
	}
	return Terms{MaxMessageBytes: c.MaxMessageBytes, MaxMessageCount: c.MaxMessageCount, AllowedTypes: c.AllowedMessageTypes,
		MaxDuration: time.Duration(c.MaxDurationSeconds) * time.Second}, nil
}

func (t Terms) lineLimit() int64 {
	if t.MaxMessageBytes > 0 && t.MaxMessageBytes < MaxLine {
		return t.MaxMessageBytes
	}
	return MaxLine
}

// Violation is why a session ends: the term it broke.
type Violation string

// The reasons a guard gives.
const (
	ViolationBytes    Violation = "max_message_bytes"
	ViolationCount    Violation = "max_message_count"
	ViolationType     Violation = "allowed_message_types"
	ViolationDuration Violation = "max_duration_seconds"
	ViolationFraming  Violation = "framing"
)

// Reason is the close reason sent to the dialer.
func (v Violation) Reason() string { return "contract_violation: " + string(v) }

// Check judges the n-th message (from 1) of a session, given without its
// newline. It returns "" for a message that may pass.
func (t Terms) Check(n int64, line []byte) Violation {
	if int64(len(line)) > t.lineLimit() {
		return ViolationBytes
	}
	if t.MaxMessageCount > 0 && n > t.MaxMessageCount {
		return ViolationCount
	}
	var env struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(line, &env); err != nil || env.Type == nil || *env.Type == "" {
		return ViolationFraming
	}
	if !slices.Contains(t.AllowedTypes, "*") && !slices.Contains(t.AllowedTypes, *env.Type) {
		return ViolationType
	}
	return ""
}
