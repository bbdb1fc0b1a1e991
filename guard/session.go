package guard

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// ClosedType is the type of the last line a guard sends a dialer.
const ClosedType = "agentmesh.session.closed"

// Outcome is how a session ended.
type Outcome struct {
	Messages  int64     // messages passed to the agent
	Violation Violation // "" when the session ended without one
	Duration  time.Duration
}

// Serve guards one session: messages from dialer pass to agent while they
// keep terms, and the agent's bytes pass back unread. It closes both
// connections and returns when either side ends or a term is broken; on a
// violation the dialer first gets a closing line with the reason.
func Serve(dialer, agent net.Conn, terms Terms) Outcome {
	start := time.Now()
	var (
		once sync.Once
		out  Outcome
		// mu serialises writes to dialer (the agent's bytes, the closing
		// line) and, once end holds it, keeps any further agent bytes out
		// until both connections are closed.
		mu       sync.Mutex
		lastByte byte = '\n' // the last byte forwarded to the dialer
	)
	end := func(v Violation) {
		once.Do(func() {
			// A dialer that stops reading blocks the agent's bytes in a
			// write while it holds mu: that write fails now, and the rest
			// of the session ends too.
			_ = dialer.SetWriteDeadline(time.Now())
			mu.Lock()
			defer mu.Unlock()
			if v != "" {
				line, _ := json.Marshal(map[string]string{"type": ClosedType, "reason": v.Reason()})
				if lastByte != '\n' { // the closing line starts a line of its own
					line = append([]byte{'\n'}, line...)
				}
				_ = dialer.SetWriteDeadline(time.Now().Add(5 * time.Second))
				_, _ = dialer.Write(append(line, '\n'))
			}
			out.Violation = v
			_ = dialer.Close()
			_ = agent.Close()
		})
	}
	if terms.MaxDuration > 0 {
		timer := time.AfterFunc(terms.MaxDuration, func() { end(ViolationDuration) })
		defer timer.Stop()
	}

	back := make(chan struct{})
	go func() {
		defer close(back)
		buf := make([]byte, 32<<10)
		for {
			n, err := agent.Read(buf)
			if chunk := buf[:n]; len(chunk) > 0 {
				mu.Lock()
				_, werr := dialer.Write(chunk)
				lastByte = chunk[len(chunk)-1]
				mu.Unlock()
				if werr != nil {
					end("")
					return
				}
			}
			if err != nil {
				end("")
				return
			}
		}
	}()

	r := bufio.NewReaderSize(dialer, 64<<10)
	// Messages that arrive together go to the agent in one write.
	aw := bufio.NewWriterSize(agent, 64<<10)
	limit := terms.lineLimit()
	var count int64
	for {
		line, err := readLine(r, limit)
		if errors.Is(err, errTooLong) {
			_ = agent.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_ = aw.Flush()
			end(ViolationBytes)
			break
		}
		if err != nil { // the dialer went, or the session was ended
			end("")
			break
		}
		count++
		if v := terms.Check(count, line); v != "" {
			// The messages before this one reach the agent first.
			_ = agent.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_ = aw.Flush()
			end(v)
			break
		}
		if _, err := aw.Write(line); err != nil {
			end("")
			break
		}
		if err := aw.WriteByte('\n'); err != nil {
			end("")
			break
		}
		if r.Buffered() == 0 {
			if err := aw.Flush(); err != nil {
				end("")
				break
			}
		}
		out.Messages = count
	}
	<-back
	out.Duration = time.Since(start)
	return out
}

var errTooLong = errors.New("message longer than its limit")

// readLine reads one line without its newline, refusing one longer than
// limit as soon as it is: a too-long message is never held whole.
func readLine(r *bufio.Reader, limit int64) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if int64(len(line)+len(chunk)) > limit+1 || (int64(len(line)+len(chunk)) > limit && !endsLine(chunk)) {
			return nil, errTooLong
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return nil, io.ErrUnexpectedEOF // a message without its newline is not delivered
		default:
			return nil, err
		}
	}
}

func endsLine(b []byte) bool { return len(b) > 0 && b[len(b)-1] == '\n' }
