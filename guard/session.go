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
		mu   sync.Mutex // serialises writes to dialer: the agent's bytes and the closing line
	)
	end := func(v Violation) {
		once.Do(func() {
			if v != "" {
				line, _ := json.Marshal(map[string]string{"type": ClosedType, "reason": v.Reason()})
				mu.Lock()
				_ = dialer.SetWriteDeadline(time.Now().Add(5 * time.Second))
				_, _ = dialer.Write(append(line, '\n'))
				mu.Unlock()
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
			if n > 0 {
				mu.Lock()
				_, werr := dialer.Write(buf[:n])
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
			end(ViolationBytes)
			break
		}
		if err != nil { // the dialer went, or the session was ended
			end("")
			break
		}
		count++
		if v := terms.Check(count, line); v != "" {
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
