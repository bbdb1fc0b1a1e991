// Package follow feeds the audit trail from the network: the
// controller's session, circuit and entity-change events, the access
// graph recomputed whenever intent or derived objects change, and the
// request facts of every LLM gateway's front. Each fact is joined with the
// intent in force when it happened (which workgroups, contract and
// approval granted it) and written to an audit.Trail.
package follow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/identity"

	"github.com/agentmesh/agentmesh/audit"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/control"
	"github.com/agentmesh/agentmesh/reconciler"
	"github.com/agentmesh/agentmesh/reconciler/controller"
	"github.com/agentmesh/agentmesh/reconciler/derive"
)

// Follower writes the trail. Run it once per trail directory.
type Follower struct {
	Engine *reconciler.Engine
	Trail  *audit.Trail
	Log    *slog.Logger
	// Settle is how long entity changes must be quiet before the access
	// graph is recomputed (default 300ms): one apply's writes then make
	// one set of access records, attributed to that apply.
	Settle time.Duration
	// PullEvery is how often gateway agents are asked for new request
	// facts (default 2s).
	PullEvery time.Duration
	// Ready, if set, is called each time the event subscription is in
	// place and the access graph observed.
	Ready func()
	// RunLapse ends a run's claim on its identity's writes after this long
	// without one (default 2m): a hand edit made later by the same
	// identity is unattributed, not the run's.
	RunLapse time.Duration

	cur     cursor
	n       *derive.Network
	byName  map[string]string // identity name -> id
	buf     []audit.Record
	runs    map[string]*run
	current map[string]run  // by author id: the run it last announced
	touched map[string]bool // runs with changes since the last access pass
	lastObs time.Time
	dirty   bool // the cursor moved since it was saved
	// gatewaySvcs names the gateways' services by id. Traffic on their
	// control services is the reconciler's and the follower's own, not
	// agents', and is not recorded.
	gatewaySvcs map[string]string
	// others are identities agentmesh does not manage (an admin), by id,
	// looked up once each.
	others map[string]audit.Party
	// past are the networks observed lately, oldest first: request facts
	// read after the fact are joined with the intent in force when they
	// happened.
	past []observed
	// changed are the times of the changes seen since known: before it,
	// the follower cannot tell which intent was in force.
	changed []time.Time
	known   time.Time
}

type observed struct {
	at time.Time
	n  *derive.Network
}

// history bounds past.
const (
	historyLen = 16
	historyAge = 15 * time.Minute
)

// cursor is where the follower stands, saved after every batch.
type cursor struct {
	// LastEvent is the time of the last controller event written.
	LastEvent time.Time `json:"last_event"`
	// Gateways is, by gateway, where its journal was read up to.
	Gateways map[string]journalPos `json:"gateways"`
	// Access is the access graph last recorded, by "<identity>><service>";
	// nil before the first observation. Subscribing again with one (a
	// restart, a reconnect) means the follower was not listening for a
	// while.
	Access map[string]grantEntry `json:"access"`
}

// journalPos is a position in one gateway agent's request journal.
type journalPos struct {
	Epoch   string `json:"epoch"`
	Seq     int64  `json:"seq"`
	Dropped int64  `json:"dropped"` // the agent's dropped count last seen
}

type grantEntry struct {
	Identity audit.Party   `json:"identity"`
	Service  audit.Service `json:"service"`
	Grant    *audit.Grant  `json:"grant,omitempty"`
}

// run gathers what one writer changed: a run it announced, or an author
// writing without one.
type run struct {
	via, id string
	by      map[string]audit.Party
	intents []string
	objects []string
	seen    time.Time
	// pending are its changes not yet described: names are resolved
	// once the network after them is observed.
	pending []event
}

var namespaces = []string{controller.EventsSession, controller.EventsCircuit, controller.EventsEntityChange}

// Run follows until ctx ends. A broken event stream is reopened; what
// happened meanwhile is recorded as a gap, and access changes in it are
// recovered from the access graph.
func (f *Follower) Run(ctx context.Context) error {
	if f.Log == nil {
		f.Log = slog.New(slog.DiscardHandler)
	}
	if f.Settle <= 0 {
		f.Settle = 300 * time.Millisecond
	}
	if f.PullEvery <= 0 {
		f.PullEvery = 2 * time.Second
	}
	if f.RunLapse <= 0 {
		f.RunLapse = 2 * time.Minute
	}
	f.runs, f.touched, f.current = map[string]*run{}, map[string]bool{}, map[string]run{}
	if _, err := f.Trail.LoadCursor(&f.cur); err != nil {
		return fmt.Errorf("reading the audit cursor: %w", err)
	}
	// The stream's goroutine ends with Run, whichever way Run ends.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if f.cur.Gateways == nil {
		f.cur.Gateways = map[string]journalPos{}
	}
	events := make(chan json.RawMessage, 4096)
	ready := make(chan struct{}, 1)
	broken := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			err := f.Engine.Client().StreamEvents(ctx, namespaces, events, func() {
				select {
				case ready <- struct{}{}:
				case <-ctx.Done():
				}
			})
			if ctx.Err() != nil {
				return
			}
			select {
			case broken <- err:
			default:
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	flush := time.NewTicker(200 * time.Millisecond)
	defer flush.Stop()
	pull := time.NewTicker(f.PullEvery)
	defer pull.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	for {
		select {
		case <-ctx.Done():
			// Changes seen but not yet settled are recorded before leaving;
			// if that fails, the next start finds them as a gap.
			if len(f.touched) > 0 && f.n != nil {
				fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				err := f.accessPass(fctx, nil)
				cancel()
				if err != nil {
					f.Log.Warn("the last access pass failed; the next start records its changes as a gap", "error", err.Error())
				}
			}
			return f.flush()
		case err := <-broken:
			f.Log.WarnContext(ctx, "controller event stream broke; reopening", "error", err.Error())
			if err := f.flush(); err != nil {
				return err
			}
		case <-ready:
			if err := f.subscribed(ctx); err != nil {
				return err
			}
		case raw := <-events:
			// Events of a new subscription come after its observation.
			select {
			case <-ready:
				if err := f.subscribed(ctx); err != nil {
					return err
				}
			default:
			}
			if f.n == nil {
				continue
			}
			if f.handle(ctx, raw) {
				settle.Reset(f.Settle)
			}
			if len(f.buf) >= 512 {
				if err := f.flush(); err != nil {
					return err
				}
			}
		case <-settle.C:
			if err := f.accessPass(ctx, nil); err != nil {
				f.Log.WarnContext(ctx, "observing the network failed; retrying", "error", err.Error())
				settle.Reset(time.Second)
			}
		case <-pull.C:
			if f.n != nil {
				f.pullGateways(ctx)
			}
		case <-flush.C:
			if err := f.flush(); err != nil {
				return err
			}
		}
	}
}

// subscribed runs when the event subscription is (again) in place: the
// access graph is observed, and what changed since the cursor's graph is
// recorded, as in force when the trail began or as changed in a gap.
func (f *Follower) subscribed(ctx context.Context) error {
	now := time.Now().UTC()
	change := &audit.Change{Via: "observed", Intents: []string{"access in force when the trail began"}}
	if f.cur.Access != nil {
		f.buf = append(f.buf, audit.Record{Time: now, Kind: audit.KindTrailGap, Source: "controller",
			Key:  "gap/" + f.cur.LastEvent.Format(time.RFC3339Nano) + "/" + now.Format(time.RFC3339Nano),
			Gap:  &audit.Gap{From: f.cur.LastEvent, To: now},
			Note: "the controller's event stream has no replay: sessions and circuits in this span are not in the trail; access changes in it are recorded from the access graph"})
		change = &audit.Change{Via: "gap"}
	}
	for {
		err := f.accessPass(ctx, change)
		if err == nil {
			break
		}
		f.Log.WarnContext(ctx, "observing the network failed; retrying", "error", err.Error())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	f.pullGateways(ctx)
	if err := f.flush(); err != nil {
		return err
	}
	if f.Ready != nil {
		f.Ready()
	}
	return nil
}

// observe reads the network afresh.
func (f *Follower) observe(ctx context.Context) error {
	n, err := f.Engine.Observe(ctx)
	if err != nil {
		return err
	}
	f.n, f.lastObs = n, time.Now()
	f.past = append(f.past, observed{at: n.Now, n: n})
	if f.known.IsZero() {
		f.known = n.Now
	}
	for len(f.past) > historyLen || (len(f.past) > 1 && time.Since(f.past[0].at) > historyAge) {
		f.past = f.past[1:]
		f.known = f.past[0].at
	}
	for len(f.changed) > 0 && f.changed[0].Before(f.past[0].at) {
		f.changed = f.changed[1:]
	}
	f.gatewaySvcs = map[string]string{}
	for name, gs := range n.GatewayServices {
		f.gatewaySvcs[gs.ID] = name
	}
	f.byName = map[string]string{}
	for id, o := range n.Identities {
		f.byName[o.Name] = id
	}
	return nil
}

// accessPass observes the network and records every access granted or
// revoked since the last pass, attributed to the writes seen since
// (change overrides that, for the first pass and after a gap).
func (f *Follower) accessPass(ctx context.Context, change *audit.Change) error {
	before := f.n
	if err := f.observe(ctx); err != nil {
		return err
	}
	f.describe(names{f.n, before})
	now := time.Now().UTC()
	if change == nil {
		change = f.attribution()
	}
	live := derive.LiveAccess(f.n)
	next := map[string]grantEntry{}
	for g := range live {
		e := grantEntry{Identity: f.party(ctx, g.Identity), Service: f.service(g.Service), Grant: f.grant(g.Identity, g.Service)}
		k := g.Identity + ">" + g.Service
		next[k] = e
		if _, had := f.cur.Access[k]; !had {
			f.buf = append(f.buf, f.accessRecord(audit.KindAccessGranted, now, k, e, change))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(f.cur.Access)) {
		if _, has := next[k]; !has {
			e := f.cur.Access[k]
			f.buf = append(f.buf, f.accessRecord(audit.KindAccessRevoked, now, k, e, change))
		}
	}
	f.cur.Access = next
	f.touched = map[string]bool{}
	// A writer without a run is attributed pass by pass: what it wrote
	// before this pass is accounted for.
	for k, r := range f.runs {
		if r.id == "" {
			delete(f.runs, k)
		}
	}
	f.dirty = true
	return f.flush()
}

func (f *Follower) accessRecord(kind string, at time.Time, key string, e grantEntry, c *audit.Change) audit.Record {
	id, svc := e.Identity, e.Service
	r := audit.Record{Time: at, Kind: kind, Source: "controller", Identity: &id, Service: &svc, Change: c,
		Key: kind + "/" + key + "/" + at.Format(time.RFC3339Nano)}
	if kind == audit.KindAccessGranted {
		r.Grant = e.Grant
	}
	return r
}

// attribution is the Change of the runs whose writes the last access
// pass has not yet accounted for.
func (f *Follower) attribution() *audit.Change {
	keys := slices.Sorted(maps.Keys(f.touched))
	if len(keys) == 0 {
		return &audit.Change{Via: "unattributed"}
	}
	c := &audit.Change{}
	var vias, ids []string
	by := map[string]audit.Party{}
	for _, k := range keys {
		r := f.runs[k]
		vias = append(vias, r.via)
		if r.id != "" {
			ids = append(ids, r.id)
		}
		maps.Copy(by, r.by)
		c.Intents = append(c.Intents, r.intents...)
		c.Objects = append(c.Objects, r.objects...)
	}
	c.Via = strings.Join(slices.Compact(vias), "+")
	c.Run = strings.Join(ids, ",")
	for _, k := range slices.Sorted(maps.Keys(by)) {
		c.By = append(c.By, by[k])
	}
	return c
}

// handle turns one controller event into records; it says whether the
// event changed intent or derived objects (and so maybe access).
func (f *Follower) handle(ctx context.Context, raw json.RawMessage) bool {
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		f.Log.WarnContext(ctx, "unreadable controller event", "error", err.Error())
		return false
	}
	if !ev.Timestamp.IsZero() {
		f.cur.LastEvent = ev.Timestamp.UTC()
		f.dirty = true
	}
	switch {
	case strings.Contains(ev.Namespace, "entityChange"):
		return f.entityChange(ev)
	case strings.Contains(ev.Namespace, "circuit"):
		f.circuit(ctx, ev)
	case strings.Contains(ev.Namespace, "session"):
		f.session(ctx, ev)
	}
	return false
}

func (f *Follower) entityChange(ev event) bool {
	author := audit.Party{}
	if ev.Metadata.Author != nil {
		author = *ev.Metadata.Author
	}
	if via, id, ok := ev.runMarker(); ok {
		f.current[author.ID] = run{via: via, id: id, seen: ev.Timestamp}
		return false
	}
	if in, obj := ev.change(nil); in == "" && obj == "" {
		return false
	}
	// What an identity writes belongs to the run it last announced; a
	// write with no run before it (a hand edit) is unattributed.
	cur, ok := f.current[author.ID]
	if ok && ev.Timestamp.Sub(cur.seen) > f.RunLapse {
		delete(f.current, author.ID)
		ok = false
	}
	key := cur.id
	if ok {
		cur.seen = ev.Timestamp
		f.current[author.ID] = cur
	} else {
		cur = run{via: "unattributed"}
		key = "unattributed/" + author.ID
	}
	r, ok := f.runs[key]
	if !ok {
		r = &run{via: cur.via, id: cur.id, by: map[string]audit.Party{}}
		f.runs[key] = r
		f.forgetOldRuns()
	}
	r.seen = time.Now()
	if author.ID != "" {
		r.by[author.ID] = audit.Party{ID: author.ID, Name: author.Name}
	}
	r.pending = append(r.pending, ev)
	f.touched[key] = true
	f.changed = append(f.changed, ev.Timestamp)
	return true
}

// describe turns the runs' pending changes into intent and object lines.
func (f *Follower) describe(ns names) {
	for _, r := range f.runs {
		for _, ev := range r.pending {
			in, obj := ev.change(ns)
			if in != "" && !slices.Contains(r.intents, in) {
				r.intents = append(r.intents, in)
			}
			if obj != "" && !slices.Contains(r.objects, obj) {
				r.objects = append(r.objects, obj)
			}
		}
		r.pending = nil
	}
}

// forgetOldRuns bounds the runs kept for attribution to the last hour.
func (f *Follower) forgetOldRuns() {
	if len(f.runs) < 1000 {
		return
	}
	for k, r := range f.runs {
		if time.Since(r.seen) > time.Hour && !f.touched[k] {
			delete(f.runs, k)
		}
	}
}

func (f *Follower) session(ctx context.Context, ev event) {
	kind := map[string]string{"created": audit.KindSessionCreated, "deleted": audit.KindSessionDeleted}[ev.EventType]
	if kind == "" || ev.ID == "" || f.isControl(ev.ServiceID) {
		return
	}
	f.knows(ctx, ev.IdentityID, ev.ServiceID)
	id, svc := f.party(ctx, ev.IdentityID), f.service(ev.ServiceID)
	r := audit.Record{Time: ev.Timestamp.UTC(), Kind: kind, Source: "controller", Key: "session/" + ev.ID + "/" + ev.EventType,
		Identity: &id, Service: &svc, Session: ev.ID, Note: strings.ToLower(ev.SessionType)}
	if kind == audit.KindSessionCreated && strings.EqualFold(ev.SessionType, "Dial") {
		r.Grant = f.grant(ev.IdentityID, ev.ServiceID)
	}
	f.buf = append(f.buf, r)
}

func (f *Follower) circuit(ctx context.Context, ev event) {
	kind := map[string]string{"created": audit.KindCircuitCreated, "deleted": audit.KindCircuitClosed, "failed": audit.KindCircuitFailed}[ev.EventType]
	if kind == "" || ev.CircuitID == "" || f.isControl(ev.ServiceID) {
		return
	}
	who := ev.Tags["clientId"]
	f.knows(ctx, who, ev.ServiceID)
	id, svc := f.party(ctx, who), f.service(ev.ServiceID)
	c := &audit.Circuit{ID: ev.CircuitID}
	if ev.Duration != nil {
		c.DurationMS = float64(*ev.Duration) / 1e6
	}
	if ev.FailureCause != nil {
		c.Failure = *ev.FailureCause
	}
	r := audit.Record{Time: ev.Timestamp.UTC(), Kind: kind, Source: "controller", Key: "circuit/" + ev.CircuitID + "/" + ev.EventType,
		Identity: &id, Service: &svc, Circuit: c}
	if kind == audit.KindCircuitCreated {
		r.Grant = f.grant(who, ev.ServiceID)
	}
	f.buf = append(f.buf, r)
}

// refreshFor re-observes the network when a request fact names a caller
// or data-plane service the follower has not seen yet.
func (f *Follower) refreshFor(ctx context.Context, gateway, identity string) {
	_, known := f.byName[identity]
	_, served := f.n.GatewayServices[derive.DataPlaneService(gateway, identity)]
	if known && served || time.Since(f.lastObs) < time.Second {
		return
	}
	if err := f.observe(ctx); err != nil {
		f.Log.WarnContext(ctx, "observing the network failed", "error", err.Error())
	}
}

// knows re-observes the network when an event names an identity or a
// service the follower has not seen (created since the last
// observation), at most four times a second.
func (f *Follower) knows(ctx context.Context, identityID, serviceID string) {
	_, idKnown := f.n.Identities[identityID]
	_, svcKnown := derive.ServiceOf(f.n, serviceID)
	if (idKnown || identityID == "") && (svcKnown || serviceID == "") || time.Since(f.lastObs) < 250*time.Millisecond {
		return
	}
	if err := f.observe(ctx); err != nil {
		f.Log.WarnContext(ctx, "observing the network failed", "error", err.Error())
	}
}

func (f *Follower) party(ctx context.Context, id string) audit.Party {
	if o, ok := f.n.Identities[id]; ok {
		return audit.Party{ID: id, Name: o.Name, Organization: o.Organization}
	}
	if e, ok := f.knownParty(id); ok {
		return e
	}
	if p, ok := f.others[id]; ok || id == "" {
		return p
	}
	p := audit.Party{ID: id}
	if f.others == nil {
		f.others = map[string]audit.Party{}
	}
	if d, err := f.Engine.Client().API.Identity.DetailIdentity(identity.NewDetailIdentityParamsWithContext(ctx).WithID(id), nil); err == nil && d.Payload.Data != nil && d.Payload.Data.Name != nil {
		p.Name = *d.Payload.Data.Name
	}
	f.others[id] = p
	return p
}

// knownParty finds an identity gone from the network in the access graph
// last recorded, so a revocation by deletion still names it.
func (f *Follower) knownParty(id string) (audit.Party, bool) {
	for _, e := range f.cur.Access {
		if e.Identity.ID == id {
			return e.Identity, true
		}
	}
	return audit.Party{}, false
}

func (f *Follower) service(id string) audit.Service {
	s := audit.Service{ID: id}
	if r, ok := derive.ServiceOf(f.n, id); ok {
		s.Kind, s.Owner, s.Organization = r.Kind, r.Name, r.Organization
		s.Name = r.Name
		if name, ok := f.gatewaySvcs[id]; ok {
			s.Name = name
		}
	}
	return s
}

func (f *Follower) isControl(serviceID string) bool {
	name, ok := f.gatewaySvcs[serviceID]
	return ok && !derive.IsDataPlaneService(name)
}

func (f *Follower) grant(identityID, serviceID string) *audit.Grant {
	return grantIn(f.n, identityID, serviceID)
}

func grantIn(n *derive.Network, identityID, serviceID string) *audit.Grant {
	r, ok := derive.Why(n, identityID, serviceID)
	if !ok {
		return &audit.Grant{None: true}
	}
	return &audit.Grant{Workgroups: r.Workgroups, Contract: r.Contract, Approval: r.Approval, Routes: r.Routes}
}

// grantAt is the grant under the network in force at t. Networks are
// observed a little after the changes that made them, so that is the
// first one observed at or after t when nothing changed between t and
// it, else the last one observed before t. A fact older than the history
// is joined with the oldest network held, and says so.
func (f *Follower) grantAt(identityID, serviceID string, t time.Time) *audit.Grant {
	if len(f.past) == 0 {
		return f.grant(identityID, serviceID)
	}
	if t.Before(f.known) {
		g := grantIn(f.past[0].n, identityID, serviceID)
		g.Approximate = true
		return g
	}
	last := -1
	for i, p := range f.past {
		if p.at.Before(t) {
			last = i
			continue
		}
		if !f.changedBetween(t, p.at) {
			return grantIn(p.n, identityID, serviceID)
		}
		break
	}
	if last < 0 {
		last = 0
	}
	return grantIn(f.past[last].n, identityID, serviceID)
}

func (f *Follower) changedBetween(from, to time.Time) bool {
	for _, c := range f.changed {
		if c.After(from) && !c.After(to) {
			return true
		}
	}
	return false
}

// pullGateways reads new request facts from every LLM gateway's agent.
// An agent that does not answer is asked again next time: its journal
// keeps the facts.
func (f *Follower) pullGateways(ctx context.Context) {
	z, err := f.Engine.Client().Ziti()
	if err != nil {
		f.Log.WarnContext(ctx, "no Ziti context to reach gateway agents", "error", err.Error())
		return
	}
	for _, name := range slices.Sorted(maps.Keys(f.n.Gateways)) {
		if f.n.Gateways[name].Value.Kind != gateways.KindLLM {
			continue
		}
		svc := reconciler.ControlService(name)
		for {
			pos := f.cur.Gateways[name]
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			facts, err := control.ReadFacts(cctx, control.Dialer(z, svc), control.FactsQuery{After: pos.Seq, Limit: 2000})
			cancel()
			if err != nil {
				if !errors.Is(err, control.ErrDial) {
					f.Log.WarnContext(ctx, "reading a gateway's request facts", "gateway", name, "error", err.Error())
				}
				break
			}
			if facts.Epoch != pos.Epoch {
				// A journal started afresh: its seqs are a new count.
				if pos.Epoch != "" {
					f.Log.InfoContext(ctx, "a gateway's request journal started afresh; reading it from its start", "gateway", name)
				}
				f.cur.Gateways[name] = journalPos{Epoch: facts.Epoch}
				f.dirty = true
				if pos.Epoch != "" || pos.Seq != 0 {
					continue
				}
				pos = f.cur.Gateways[name]
			}
			if facts.Oldest > pos.Seq+1 {
				f.buf = append(f.buf, f.gatewayGap(name, fmt.Sprintf("%s/%d-%d", facts.Epoch, pos.Seq+1, facts.Oldest-1),
					fmt.Sprintf("request facts %d to %d of gateway %s were gone from its journal before they were read", pos.Seq+1, facts.Oldest-1, name)))
			}
			if facts.Dropped > pos.Dropped {
				f.buf = append(f.buf, f.gatewayGap(name, fmt.Sprintf("%s/dropped/%d", facts.Epoch, facts.Dropped),
					fmt.Sprintf("gateway %s's agent dropped %d request facts: its journal could not keep up", name, facts.Dropped-pos.Dropped)))
				pos.Dropped = facts.Dropped
			}
			for _, fact := range facts.Facts {
				f.refreshFor(ctx, name, fact.Identity)
				f.buf = append(f.buf, f.requestRecord(name, facts.Epoch, fact))
				pos.Seq = fact.Seq
			}
			f.cur.Gateways[name] = journalPos{Epoch: facts.Epoch, Seq: pos.Seq, Dropped: pos.Dropped}
			f.dirty = true
			if len(facts.Facts) < 2000 {
				break
			}
		}
	}
}

// gatewayGap records facts of a gateway the trail will not have; it names
// the gateway, so only its organisation sees it.
func (f *Follower) gatewayGap(gateway, key, note string) audit.Record {
	svc := audit.Service{Kind: "gateway", Owner: gateway, Name: reconciler.ControlService(gateway)}
	if g, ok := f.n.Gateways[gateway]; ok {
		svc.Organization = g.Value.Organization
		if o, ok := f.n.Identities[g.Value.Identity]; ok && svc.Organization == "" {
			svc.Organization = o.Organization
		}
	}
	return audit.Record{Time: time.Now().UTC(), Kind: audit.KindTrailGap, Source: "gateway/" + gateway,
		Key: "gap/gateway/" + gateway + "/" + key, Service: &svc, Note: note}
}

func (f *Follower) requestRecord(gateway, epoch string, fact gateways.RequestFact) audit.Record {
	id := f.byName[fact.Identity]
	party := audit.Party{ID: id, Name: fact.Identity}
	if o, ok := f.n.Identities[id]; ok {
		party.Organization = o.Organization
	}
	svcName := derive.DataPlaneService(gateway, fact.Identity)
	svc := audit.Service{Name: svcName, Kind: "gateway", Owner: gateway}
	if gs, ok := f.n.GatewayServices[svcName]; ok {
		svc = f.service(gs.ID)
	}
	llm := &audit.LLM{Model: fact.Model, ResolvedModel: fact.ResolvedModel, Status: fact.Status, PromptTokens: fact.PromptTokens,
		CompletionTokens: fact.CompletionTokens, TotalTokens: fact.TotalTokens, LatencyMS: fact.LatencyMS, Stream: fact.Stream,
		BytesIn: fact.BytesIn, BytesOut: fact.BytesOut, Aborted: fact.Aborted}
	var grant *audit.Grant
	if svc.ID != "" && id != "" {
		grant = f.grantAt(id, svc.ID, fact.Time)
		llm.Route = f.route(gateway, grant.Routes, fact)
	}
	return audit.Record{Time: fact.Time.UTC(), Kind: audit.KindLLMRequest, Source: "gateway/" + gateway,
		Key: fmt.Sprintf("gateway/%s/%s/%d", gateway, epoch, fact.Seq), Identity: &party, Service: &svc, Grant: grant, LLM: llm,
		Note: fact.Method + " " + fact.Path}
}

// route is the route, of those serving the caller, whose model the
// request named.
func (f *Follower) route(gateway string, routes []string, fact gateways.RequestFact) string {
	var hits []string
	for _, rt := range f.n.LLMRoutes {
		if rt.Value.Gateway == gateway && slices.Contains(routes, rt.Value.Name) && (rt.Value.Model == fact.Model || rt.Value.Model == fact.ResolvedModel) {
			hits = append(hits, rt.Value.Name)
		}
	}
	sort.Strings(hits)
	return strings.Join(hits, ",")
}

// flush writes the buffered records and then the cursor.
func (f *Follower) flush() error {
	if len(f.buf) == 0 && !f.dirty {
		return nil
	}
	f.dirty = false
	if len(f.buf) > 0 {
		if _, err := f.Trail.Append(f.buf); err != nil {
			return fmt.Errorf("writing the audit trail: %w", err)
		}
		f.buf = f.buf[:0]
	}
	return f.Trail.SaveCursor(f.cur)
}
