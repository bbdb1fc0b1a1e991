package mcpfront

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentmesh/agentmesh/gateways"
)

// Relay is the MCP front's data plane: it relays one identity's MCP
// session (the HTTP+SSE transport mcp-gateway serves) to the gateway's
// share, reached on loopback, and applies that identity's view. The
// caller is the one the network verified (gateways.CallerOf): a session
// belongs to the identity that opened it, and nobody else may post to it.
//
// Lessons that shape it (each one ends a go-sdk client's session with EOF
// or lets it bypass the front): the client reads SSE line by line, so a
// rewritten event is compact JSON on one data line; events can be far
// larger than bufio.Scanner's 64 KiB; the stream outlives any server
// WriteTimeout; and the endpoint the upstream announces is replaced by
// the front's own, or the client would post to the upstream directly.
type Relay struct {
	// Upstream is the gateway's SSE URL on loopback.
	Upstream *url.URL
	// Client reaches the upstream; it must have no overall timeout (a
	// session's GET lasts as long as the session).
	Client *http.Client
	// OnBadGateway, if set, is told when the upstream answers 502 or
	// cannot be reached: zrok's access can lose the share for good (a
	// stale API session) or die, and only a new access finds it again.
	OnBadGateway func()

	upstream atomic.Pointer[url.URL]
	rules    atomic.Pointer[Rules]
	mu       sync.Mutex
	sessions map[string]*session
}

// SetUpstream moves the relay to another upstream (the gateway's access
// restarted on another port); new sessions go there.
func (rl *Relay) SetUpstream(u *url.URL) { rl.upstream.Store(u) }

func (rl *Relay) badGateway() {
	if rl.OnBadGateway != nil {
		rl.OnBadGateway()
	}
}

// roundTrip sends up to the gateway for the caller's request r. An
// upstream that cannot be reached, or answers 502, is reported
// (OnBadGateway); when it cannot be reached the caller gets 502 and ok is
// false.
func (rl *Relay) roundTrip(w http.ResponseWriter, r *http.Request, up *http.Request) (*http.Response, bool) {
	resp, err := rl.client().Do(up)
	if err != nil {
		if r.Context().Err() == nil {
			rl.badGateway()
		}
		http.Error(w, "the MCP gateway is not answering", http.StatusBadGateway)
		return nil, false
	}
	if resp.StatusCode == http.StatusBadGateway {
		rl.badGateway()
	}
	return resp, true
}

func (rl *Relay) target() *url.URL {
	if u := rl.upstream.Load(); u != nil {
		return u
	}
	return rl.Upstream
}

// SetRules replaces who may use which tools (a new route table). Open
// sessions of identities no longer served are ended.
func (rl *Relay) SetRules(r *Rules) {
	rl.rules.Store(r)
	rl.mu.Lock()
	defer rl.mu.Unlock()
	for id, s := range rl.sessions {
		if !r.Serves(s.identity) {
			s.end()
			delete(rl.sessions, id)
		}
	}
}

type session struct {
	identity string
	upstream *url.URL // where its messages go
	cancel   func()

	mu     sync.Mutex // guards the stream, lists and closed
	w      io.Writer
	flush  func()
	closed bool
	lists  map[string]bool // ids of tools/list requests in flight
}

var loopback = &http.Client{Transport: &http.Transport{
	ResponseHeaderTimeout: 30 * time.Second,
	DisableCompression:    true, // gzip would buffer the event stream
}}

func (rl *Relay) client() *http.Client {
	if rl.Client != nil {
		return rl.Client
	}
	return loopback
}

func (rl *Relay) allows(identity, tool string) (bool, string) {
	r := rl.rules.Load()
	if r == nil {
		return false, "this gateway serves no routes yet"
	}
	return r.Allows(identity, tool)
}

// ServeHTTP serves GET (a new session's event stream) and POST (a
// message of an open session).
func (rl *Relay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	identity, ok := gateways.CallerOf(r.Context())
	if !ok {
		http.Error(w, "no network-verified identity on this connection", http.StatusUnauthorized)
		return
	}
	if rs := rl.rules.Load(); rs == nil || !rs.Serves(identity) {
		http.Error(w, fmt.Sprintf("identity %q has no route on this gateway", identity), http.StatusForbidden)
		return
	}
	switch r.Method {
	case http.MethodGet:
		rl.stream(w, r, identity)
	case http.MethodPost:
		rl.post(w, r, identity)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "only GET (a session's events) and POST (its messages)", http.StatusMethodNotAllowed)
	}
}

// sessionOf reads the session id whatever the key's case: go-sdk says
// sessionid, other SDKs sessionId.
func sessionOf(q url.Values) string {
	for k, v := range q {
		if strings.EqualFold(k, "sessionid") && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func (rl *Relay) stream(w http.ResponseWriter, r *http.Request, identity string) {
	// SetRules ends a session by cancelling its upstream request, which
	// ends the loop below and with it the caller's stream.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	target := rl.target()
	if target == nil {
		http.Error(w, "the MCP gateway is not reachable yet", http.StatusServiceUnavailable)
		return
	}
	up, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	up.Header.Set("Accept", "text/event-stream")
	up.Header.Set("Cache-Control", "no-cache")
	resp, ok := rl.roundTrip(w, r, up)
	if !ok {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		http.Error(w, fmt.Sprintf("the MCP gateway answered %d", resp.StatusCode), http.StatusBadGateway)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // the stream outlives a server's WriteTimeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	s := &session{identity: identity, w: w, flush: func() { _ = rc.Flush() }, lists: map[string]bool{}, cancel: cancel}
	var id string
	defer func() {
		s.end()
		if id != "" {
			rl.mu.Lock()
			delete(rl.sessions, id)
			rl.mu.Unlock()
		}
	}()
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		ev, err := readEvent(br)
		if err != nil {
			return
		}
		switch ev.name {
		case "endpoint":
			if id != "" {
				continue
			}
			// Relative or absolute, resolved against what was fetched.
			target, err := resp.Request.URL.Parse(strings.TrimSpace(string(ev.data)))
			if err != nil {
				return
			}
			s.upstream = target
			id = rand.Text()
			rl.mu.Lock()
			if rl.sessions == nil {
				rl.sessions = map[string]*session{}
			}
			rl.sessions[id] = s
			rl.mu.Unlock()
			// The client posts to the front, never to the share.
			ev.data = []byte(r.URL.Path + "?sessionid=" + id)
		case "", "message":
			if id == "" {
				return // a message before the endpoint: not the protocol
			}
			ev.data = rl.filter(s, ev.data)
		}
		if !s.write(ev) {
			return
		}
	}
}

// filter narrows the answer to one of the session's tools/list requests
// to the tools the identity may use.
func (rl *Relay) filter(s *session, data []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return data
	}
	if _, request := m["method"]; request {
		return data
	}
	key := idKey(m["id"])
	s.mu.Lock()
	mine := key != "" && s.lists[key]
	delete(s.lists, key)
	s.mu.Unlock()
	if !mine || m["result"] == nil {
		return data
	}
	var res map[string]json.RawMessage
	var tools []json.RawMessage
	if json.Unmarshal(m["result"], &res) != nil || json.Unmarshal(res["tools"], &tools) != nil {
		return data
	}
	kept := make([]json.RawMessage, 0, len(tools))
	for _, t := range tools {
		var named struct{ Name string }
		if json.Unmarshal(t, &named) == nil {
			if ok, _ := rl.allows(s.identity, named.Name); ok {
				kept = append(kept, t)
			}
		}
	}
	res["tools"], _ = json.Marshal(kept)
	m["result"], _ = json.Marshal(res)
	out, err := json.Marshal(m) // one line: the client reads events line by line
	if err != nil {
		return data
	}
	return out
}

// idKey tells a JSON-RPC id 3 from "3".
func idKey(raw json.RawMessage) string {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if len(raw) == 0 || d.Decode(&v) != nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return "s:" + v
	case json.Number:
		return "n:" + v.String()
	}
	return ""
}

func (rl *Relay) post(w http.ResponseWriter, r *http.Request, identity string) {
	rl.mu.Lock()
	s := rl.sessions[sessionOf(r.URL.Query())]
	rl.mu.Unlock()
	if s == nil || s.identity != identity {
		// Another identity's session is as unknown as none.
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
	if err != nil {
		http.Error(w, "unreadable message", http.StatusBadRequest)
		return
	}
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		http.Error(w, "JSON-RPC batches are not relayed: send one message at a time", http.StatusBadRequest)
		return
	}
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		http.Error(w, "the message is not JSON-RPC", http.StatusBadRequest)
		return
	}
	// encoding/json matches keys whatever their case and lets the last
	// one win; another decoder (the gateway's, some day) may read
	// "Method" or the first "name" instead. A message that could mean two
	// things is refused, so the front and the gateway read the same one.
	if err := unambiguous(body); err != nil {
		http.Error(w, "ambiguous message: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(msg.Params) > 0 && msg.Params[0] == '{' {
		if err := unambiguous(msg.Params); err != nil {
			http.Error(w, "ambiguous params: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	switch msg.Method {
	case "tools/list":
		if k := idKey(msg.ID); k != "" {
			s.mu.Lock()
			s.lists[k] = true // before forwarding: the answer may beat the 202
			s.mu.Unlock()
		}
	case "tools/call":
		var p struct{ Name string }
		_ = json.Unmarshal(msg.Params, &p)
		if ok, why := rl.allows(identity, p.Name); !ok {
			s.answerError(w, msg.ID, -32601, why)
			return
		}
	}
	up, err := http.NewRequestWithContext(r.Context(), http.MethodPost, s.upstream.String(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	up.Header.Set("Content-Type", "application/json")
	resp, ok := rl.roundTrip(w, r, up)
	if !ok {
		return
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if resp.StatusCode == http.StatusBadRequest && idKey(msg.ID) != "" {
		// mcp-gateway (go-sdk v1.1) answers a method it does not know
		// with HTTP 400, where the protocol wants a JSON-RPC error: newer
		// clients probe with server/discover and fall back to initialize
		// only on the error. The front gives them the error.
		why, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		code := -32600 // invalid request
		if bytes.Contains(why, []byte("not handled")) {
			code = -32601 // method not found
		}
		s.answerError(w, msg.ID, code, strings.TrimSpace(string(why)))
		return
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
}

// answerError answers a posted message, in place of the gateway, with a
// JSON-RPC error on the session's stream (a notification, without an id,
// gets none) and accepts the post.
func (s *session) answerError(w http.ResponseWriter, id json.RawMessage, code int, message string) {
	if idKey(id) != "" {
		answer, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id,
			"error": map[string]any{"code": code, "message": message}})
		if !s.write(event{name: "message", data: answer}) {
			http.Error(w, "the session has ended", http.StatusGone)
			return
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

// end closes the session's stream; later writes fail.
func (s *session) end() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
}

type event struct {
	name, id, retry string
	data            []byte
	hasData         bool
}

// write sends one event whole and flushes it; false once the stream is
// gone. Relayed and injected events never interleave.
func (s *session) write(ev event) bool {
	var b bytes.Buffer
	if ev.name != "" {
		fmt.Fprintf(&b, "event: %s\n", ev.name)
	}
	if ev.id != "" {
		fmt.Fprintf(&b, "id: %s\n", ev.id)
	}
	if ev.retry != "" {
		fmt.Fprintf(&b, "retry: %s\n", ev.retry)
	}
	if ev.hasData || len(ev.data) > 0 {
		for _, line := range bytes.Split(ev.data, []byte("\n")) {
			b.WriteString("data: ")
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	b.WriteByte('\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if _, err := s.w.Write(b.Bytes()); err != nil {
		return false
	}
	s.flush()
	return true
}

// readEvent reads one server-sent event: LF or CRLF lines, data lines
// joined with newlines, comments skipped, no limit on a line's length.
func readEvent(br *bufio.Reader) (event, error) {
	var ev event
	var data [][]byte
	seen := false
	for {
		line, err := br.ReadBytes('\n')
		if err != nil && (len(line) == 0 || !errors.Is(err, io.EOF)) {
			return ev, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if seen {
				ev.data = bytes.Join(data, []byte("\n"))
				return ev, nil
			}
			if err != nil {
				return ev, err
			}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		seen = true
		switch string(field) {
		case "event":
			ev.name = string(value)
		case "id":
			ev.id = string(value)
		case "retry":
			ev.retry = string(value)
		case "data":
			ev.hasData = true
			data = append(data, append([]byte(nil), value...))
		}
		if err != nil {
			ev.data = bytes.Join(data, []byte("\n"))
			return ev, nil
		}
	}
}

// unambiguous refuses a JSON object with two keys that are equal but for
// their case (including exact duplicates).
func unambiguous(obj []byte) error {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		k, _ := t.(string)
		for _, seen := range keys {
			if strings.EqualFold(seen, k) {
				return fmt.Errorf("keys %q and %q", seen, k)
			}
		}
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}
