package guard

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// session runs Serve between a test dialer and an agent that answers
// every message with "ack <type-less line length>", and returns the
// dialer's side, what the agent received, and the outcome.
type session struct {
	dialer   net.Conn
	lines    *bufio.Reader
	received chan string
	done     chan Outcome
}

func start(t *testing.T, terms Terms) *session {
	t.Helper()
	dialer, guardSide := net.Pipe()
	agentSide, agent := net.Pipe()
	s := &session{dialer: dialer, lines: bufio.NewReader(dialer), received: make(chan string, 100), done: make(chan Outcome, 1)}
	go func() {
		r := bufio.NewReader(agent)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				_ = agent.Close()
				return
			}
			s.received <- strings.TrimSuffix(line, "\n")
			// A failed answer (the session ended) does not stop the
			// agent from reading what it was already sent.
			_, _ = fmt.Fprintf(agent, "ack %d\n", len(line)-1)
		}
	}()
	go func() { s.done <- Serve(guardSide, agentSide, terms) }()
	t.Cleanup(func() { _ = dialer.Close() })
	return s
}

func (s *session) send(t *testing.T, line string) {
	t.Helper()
	_ = s.dialer.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = s.dialer.Write([]byte(line + "\n"))
}

func (s *session) read(t *testing.T) string {
	t.Helper()
	_ = s.dialer.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := s.lines.ReadString('\n')
	if err != nil {
		t.Fatalf("reading from the guard: %v", err)
	}
	return strings.TrimSuffix(line, "\n")
}

func (s *session) outcome(t *testing.T) Outcome {
	t.Helper()
	select {
	case o := <-s.done:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("the session did not end")
		return Outcome{}
	}
}

func msg(typ string, size int) string {
	head := fmt.Sprintf(`{"type":%q,"pad":"`, typ)
	return head + strings.Repeat("x", size-len(head)-2) + `"}`
}

func TestServeEnforcesTerms(t *testing.T) {
	terms := Terms{MaxMessageBytes: 1024, MaxMessageCount: 10, AllowedTypes: []string{"quote.request", "ping"}}
	closed := func(v Violation) string {
		return fmt.Sprintf(`{"reason":%q,"type":"agentmesh.session.closed"}`, v.Reason())
	}

	t.Run("an allowed message passes and its answer returns", func(t *testing.T) {
		s := start(t, terms)
		s.send(t, msg("quote.request", 1024))
		if got := s.read(t); got != "ack 1024" {
			t.Fatalf("answer %q", got)
		}
		if got := <-s.received; len(got) != 1024 {
			t.Fatalf("the agent got %d bytes", len(got))
		}
		_ = s.dialer.Close()
		if o := s.outcome(t); o.Violation != "" || o.Messages != 1 {
			t.Fatalf("outcome %+v", o)
		}
	})
	t.Run("1025 bytes under a 1024-byte cap are refused", func(t *testing.T) {
		s := start(t, terms)
		s.send(t, msg("quote.request", 1025))
		if got := s.read(t); got != closed(ViolationBytes) {
			t.Fatalf("closing line %q", got)
		}
		if o := s.outcome(t); o.Violation != ViolationBytes || o.Messages != 0 {
			t.Fatalf("outcome %+v", o)
		}
		if len(s.received) != 0 {
			t.Fatal("the agent got the refused message")
		}
	})
	t.Run("the 11th message under a count of 10 closes the session", func(t *testing.T) {
		s := start(t, terms)
		for i := 1; i <= 10; i++ {
			s.send(t, `{"type":"ping"}`)
			if got := s.read(t); got != "ack 15" {
				t.Fatalf("answer %d: %q", i, got)
			}
		}
		s.send(t, `{"type":"ping"}`)
		if got := s.read(t); got != closed(ViolationCount) {
			t.Fatalf("closing line %q", got)
		}
		if o := s.outcome(t); o.Violation != ViolationCount || o.Messages != 10 {
			t.Fatalf("outcome %+v", o)
		}
	})
	t.Run("a disallowed type is refused", func(t *testing.T) {
		s := start(t, terms)
		s.send(t, `{"type":"trade.execute"}`)
		if got := s.read(t); got != closed(ViolationType) {
			t.Fatalf("closing line %q", got)
		}
		if o := s.outcome(t); o.Violation != ViolationType || len(s.received) != 0 {
			t.Fatalf("outcome %+v, agent got %d", o, len(s.received))
		}
	})
	t.Run("a line that is no envelope is refused", func(t *testing.T) {
		for _, line := range []string{`not json`, `{"kind":"ping"}`, `{"type":""}`, `{"type":7}`} {
			s := start(t, Terms{AllowedTypes: []string{"*"}})
			s.send(t, line)
			if got := s.read(t); got != closed(ViolationFraming) {
				t.Fatalf("%s: closing line %q", line, got)
			}
		}
	})
	t.Run("a message cut off by the dialer is not delivered", func(t *testing.T) {
		s := start(t, Terms{AllowedTypes: []string{"*"}})
		_, _ = s.dialer.Write([]byte(`{"type":"ping"}`))
		_ = s.dialer.Close()
		if o := s.outcome(t); o.Violation != "" || len(s.received) != 0 {
			t.Fatalf("outcome %+v, agent got %d", o, len(s.received))
		}
	})
	t.Run("a session ends at max_duration_seconds", func(t *testing.T) {
		s := start(t, Terms{AllowedTypes: []string{"*"}, MaxDuration: 300 * time.Millisecond})
		s.send(t, `{"type":"ping"}`)
		_ = s.read(t)
		if got := s.read(t); got != closed(ViolationDuration) {
			t.Fatalf("closing line %q", got)
		}
		if o := s.outcome(t); o.Violation != ViolationDuration || o.Duration < 300*time.Millisecond {
			t.Fatalf("outcome %+v", o)
		}
	})
}

func TestTermsFromConfig(t *testing.T) {
	terms, err := TermsFromConfig(map[string]any{"name": "c", "max_duration_seconds": 30.0, "max_message_count": 10.0, "max_message_bytes": 1024.0,
		"allowed_message_types": []any{"ping"}, "required_workgroups": []any{}, "access_mode": "open", "owner_organization": "o"})
	if err != nil || terms.MaxDuration != 30*time.Second || terms.MaxMessageCount != 10 || terms.MaxMessageBytes != 1024 || fmt.Sprint(terms.AllowedTypes) != "[ping]" {
		t.Fatalf("terms %+v, %v", terms, err)
	}
	if (Terms{}).lineLimit() != MaxLine {
		t.Fatal("no max_message_bytes is not bounded by MaxLine")
	}
}

// TestServeEndsWhenTheDialerStopsReading: an agent that keeps talking to
// a dialer that never reads cannot keep the session past its cap.
func TestServeEndsWhenTheDialerStopsReading(t *testing.T) {
	dialer, guardSide := net.Pipe()
	agentSide, agent := net.Pipe()
	defer dialer.Close()
	go func() {
		chunk := []byte(strings.Repeat("y", 1024))
		for {
			if _, err := agent.Write(chunk); err != nil {
				return
			}
		}
	}()
	done := make(chan Outcome, 1)
	go func() {
		done <- Serve(guardSide, agentSide, Terms{AllowedTypes: []string{"*"}, MaxDuration: 200 * time.Millisecond})
	}()
	select {
	case o := <-done:
		if o.Violation != ViolationDuration {
			t.Fatalf("outcome %+v", o)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a dialer that does not read kept the session open past its cap")
	}
}

// TestServeFlushesBeforeAViolation: messages that passed reach the agent
// even when the one after them ends the session.
func TestServeFlushesBeforeAViolation(t *testing.T) {
	s := start(t, Terms{AllowedTypes: []string{"ping"}})
	_, _ = s.dialer.Write([]byte("{\"type\":\"ping\"}\n{\"type\":\"ping\"}\n{\"type\":\"nope\"}\n"))
	for !strings.Contains(s.read(t), ClosedType) {
	}
	if o := s.outcome(t); o.Violation != ViolationType || o.Messages != 2 {
		t.Fatalf("outcome %+v", o)
	}
	for i := 1; i <= 2; i++ {
		select {
		case <-s.received:
		case <-time.After(5 * time.Second):
			t.Fatalf("the agent got %d of the 2 messages that passed", i-1)
		}
	}
	select {
	case m := <-s.received:
		t.Fatalf("the agent got the refused message %q", m)
	case <-time.After(100 * time.Millisecond):
	}
}
