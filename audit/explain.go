package audit

import (
	"fmt"
	"strings"
	"time"
)

// Matches says whether a party is the one asked about, by id or name.
func (p *Party) Matches(who string) bool {
	return p != nil && who != "" && (p.ID == who || p.Name == who)
}

// Matches says whether a service is the one asked about: by id, by the
// Ziti service's name, or by the endpoint's or gateway's name.
func (s *Service) Matches(what string) bool {
	return s != nil && what != "" && (s.ID == what || s.Name == what || s.Owner == what)
}

// Answer is why an identity could (or could not) reach a service at a
// time, from the trail alone.
type Answer struct {
	Identity, Service string
	At                time.Time
	// Allowed is the access state at At: the last access change before
	// it, or, with none recorded, a dial that happened.
	Allowed bool
	// Grant is what allowed it, as recorded at the time.
	Grant *Grant
	// Since is the record that put the access in this state: the access
	// change, or the first dial seen.
	Since *Record
	// Dials are the sessions and circuits of the identity to the service
	// up to At, with the grant stamped on each.
	Dials []Record
	// Revoked is the change that later took the access away, if the
	// trail holds one.
	Revoked *Record
}

// Why answers "why could identity reach service at at" from records.
func Why(recs []Record, identity, service string, at time.Time) Answer {
	a := Answer{Identity: identity, Service: service, At: at}
	for i := range recs {
		r := &recs[i]
		if !r.Identity.Matches(identity) || !r.Service.Matches(service) {
			continue
		}
		switch r.Kind {
		case KindAccessGranted, KindAccessRevoked:
			if r.Time.After(at) {
				if r.Kind == KindAccessRevoked && a.Revoked == nil && a.Allowed {
					a.Revoked = r
				}
				continue
			}
			a.Allowed = r.Kind == KindAccessGranted
			a.Since = r
			if a.Allowed {
				a.Grant = r.Grant
			} else {
				a.Grant = nil
			}
		case KindSessionCreated, KindCircuitCreated, KindLLMRequest:
			if r.Time.After(at) {
				continue
			}
			a.Dials = append(a.Dials, *r)
			if a.Since == nil {
				// Access granted before the trail began: the dial itself,
				// with the grant stamped on it, is the evidence.
				a.Allowed, a.Since = true, r
			}
			if a.Allowed && r.Grant != nil && !r.Grant.None {
				a.Grant = r.Grant
			}
		}
	}
	return a
}

// Activity is what identity did between from and to (inclusive): its
// sessions, circuits and requests, and the changes to its access.
func Activity(recs []Record, identity string, from, to time.Time) []Record {
	var out []Record
	for _, r := range recs {
		if r.Identity.Matches(identity) && !r.Time.Before(from) && !r.Time.After(to) {
			out = append(out, r)
		}
	}
	return out
}

// Visible filters records to what one organisation may see: the
// activity of its own identities and the activity on its own endpoints
// and gateways. An access change keeps, of its run's changes, only those
// about the record's own identity and service: the rest of the run may be
// another organisation's. The controller's gaps name nobody and are shown
// to all; a gateway's gaps only to the gateway's organisation.
func Visible(recs []Record, org string) []Record {
	var out []Record
	for _, r := range recs {
		switch {
		case r.Kind == KindTrailGap && r.Identity == nil && r.Service == nil:
			out = append(out, r)
		case (r.Identity != nil && r.Identity.Organization == org) || (r.Service != nil && r.Service.Organization == org):
			out = append(out, redact(r))
		}
	}
	return out
}

func redact(r Record) Record {
	if r.Change == nil {
		return r
	}
	var names []string
	if p := r.Identity; p != nil {
		names = append(names, p.ID, p.Name)
	}
	if s := r.Service; s != nil {
		names = append(names, s.ID, s.Name, s.Owner)
	}
	about := func(line string) bool {
		for _, field := range strings.FieldsFunc(line, func(c rune) bool { return c == ' ' || c == '/' || c == '[' || c == ']' }) {
			for _, n := range names {
				if n != "" && (field == n || strings.HasSuffix(field, "."+n) || strings.Contains(field, "."+n+".")) {
					return true
				}
			}
		}
		return false
	}
	keep := func(lines []string) []string {
		var out []string
		for _, l := range lines {
			if about(l) {
				out = append(out, l)
			}
		}
		return out
	}
	c := *r.Change
	c.Intents, c.Objects = keep(c.Intents), keep(c.Objects)
	r.Change = &c
	return r
}

// String renders an answer for people.
func (a Answer) String() string {
	var b strings.Builder
	at := a.At.UTC().Format(time.RFC3339)
	if !a.Allowed {
		fmt.Fprintf(&b, "%s could not reach %s at %s", a.Identity, a.Service, at)
		if a.Since != nil {
			fmt.Fprintf(&b, ": access was revoked at %s (%s)", a.Since.Time.UTC().Format(time.RFC3339), describeChange(a.Since.Change))
		}
		b.WriteString("\n")
		return b.String()
	}
	fmt.Fprintf(&b, "%s could reach %s at %s\n", a.Identity, a.Service, at)
	if g := a.Grant; g != nil {
		for _, p := range g.parts(", ") {
			fmt.Fprintf(&b, "  %-11s %s\n", p[0]+":", p[1])
		}
	}
	if a.Since != nil {
		fmt.Fprintf(&b, "  since:      %s (seq %d, %s)\n", a.Since.Time.UTC().Format(time.RFC3339), a.Since.Seq, a.Since.Kind)
	}
	fmt.Fprintf(&b, "  dials:      %d up to then\n", len(a.Dials))
	if a.Revoked != nil {
		fmt.Fprintf(&b, "  revoked:    %s (seq %d, %s)\n", a.Revoked.Time.UTC().Format(time.RFC3339), a.Revoked.Seq, describeChange(a.Revoked.Change))
	}
	return b.String()
}

// parts are a grant's terms as label and value, lists joined with sep.
func (g *Grant) parts(sep string) [][2]string {
	if g.None {
		return [][2]string{{"granted", "by nothing agentmesh manages"}}
	}
	var out [][2]string
	add := func(label, v string) {
		if v != "" {
			out = append(out, [2]string{label, v})
		}
	}
	add("workgroups", strings.Join(g.Workgroups, sep))
	add("contract", g.Contract)
	add("approval", g.Approval)
	add("routes", strings.Join(g.Routes, sep))
	if g.Approximate {
		add("joined", "with the oldest intent the follower held")
	}
	return out
}

func describeChange(c *Change) string {
	if c == nil {
		return "no change recorded"
	}
	s := "by " + c.Via
	if c.Run != "" {
		s += " " + c.Run
	}
	for _, p := range c.By {
		s += ", author " + p.Name
	}
	if len(c.Intents) > 0 {
		s += ": " + strings.Join(c.Intents, "; ")
	}
	return s
}

// String is one line for people: time, kind, who, what, and the detail
// the kind carries.
func (r Record) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-16s", r.Time.UTC().Format(time.RFC3339), r.Kind)
	if r.Identity != nil {
		name := r.Identity.Name
		if name == "" {
			name = r.Identity.ID
		}
		fmt.Fprintf(&b, " %s", name)
		if r.Identity.Organization != "" {
			fmt.Fprintf(&b, " (%s)", r.Identity.Organization)
		}
	}
	if r.Service != nil {
		what := r.Service.Owner
		if what == "" {
			what = r.Service.Name
		}
		if what == "" {
			what = r.Service.ID
		}
		fmt.Fprintf(&b, " -> %s %s", r.Service.Kind, what)
	}
	if g := r.Grant; g != nil {
		var parts []string
		for _, p := range g.parts(",") {
			parts = append(parts, p[0]+" "+p[1])
		}
		fmt.Fprintf(&b, " [%s]", strings.Join(parts, " "))
	}
	if l := r.LLM; l != nil {
		if l.Model == "" {
			fmt.Fprintf(&b, " %s", r.Note) // a request that names no model: GET /v1/models
		} else {
			fmt.Fprintf(&b, " %s", l.Model)
		}
		if l.Route != "" {
			fmt.Fprintf(&b, " route=%s", l.Route)
		}
		fmt.Fprintf(&b, " status=%d", l.Status)
		if l.TotalTokens > 0 {
			fmt.Fprintf(&b, " tokens=%d+%d=%d", l.PromptTokens, l.CompletionTokens, l.TotalTokens)
		}
		fmt.Fprintf(&b, " %.1fms", l.LatencyMS)
	}
	if r.Change != nil && (r.Kind == KindAccessGranted || r.Kind == KindAccessRevoked) {
		fmt.Fprintf(&b, " (%s)", describeChange(r.Change))
	}
	if r.Gap != nil {
		fmt.Fprintf(&b, " %s .. %s", r.Gap.From.UTC().Format(time.RFC3339), r.Gap.To.UTC().Format(time.RFC3339))
	}
	if r.Note != "" && r.Kind == KindTrailGap {
		fmt.Fprintf(&b, " %s", r.Note)
	}
	return b.String()
}
