package llmfront

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

type grantKey struct{}

// maxAnswer bounds a whole (not streamed) answer the front reads.
const maxAnswer = 64 << 20

// modify meters chat answers and filters the model list. It runs on the
// gateway's answer before anything reaches the caller.
func (f *Front) modify(resp *http.Response) error {
	ctx := resp.Request.Context()
	if resp.StatusCode != http.StatusOK {
		return nil // refused by the gateway: nothing was produced
	}
	if resp.Request.URL.Path == "/v1/models" {
		g, _ := ctx.Value(grantKey{}).(Grant)
		return filterModels(resp, g.AllowedModels)
	}
	m, _ := ctx.Value(meteredKey{}).(*metered)
	if m == nil {
		return nil
	}
	m.owned.Store(true)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
		_ = resp.Body.Close()
		a := answer{count: m.count}
		a.add(body)
		m.resolved.Store(&a.model)
		m.res.settle(a.tokens(m.prompt))
		if err == nil && len(body) > maxAnswer {
			err = fmt.Errorf("the gateway's answer is larger than %d bytes", maxAnswer)
		}
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		return nil
	}
	// A stream is passed on line by line as it arrives and metered from
	// its deltas: llm-gateway v0.1.4 drops `usage` from streamed chunks,
	// so the content itself is what can be counted. A caller that goes
	// away mid-stream is charged for what was sent to it.
	pr, pw := io.Pipe()
	src := resp.Body
	go func() {
		a := answer{count: m.count}
		sc := bufio.NewScanner(src)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			if _, err := io.WriteString(pw, line+"\n"); err != nil {
				break
			}
			if data, ok := strings.CutPrefix(line, "data:"); ok {
				if data = strings.TrimSpace(data); data != "[DONE]" {
					a.add([]byte(data))
				}
			}
		}
		_ = src.Close()
		m.resolved.Store(&a.model)
		m.res.settle(a.tokens(m.prompt))
		pw.CloseWithError(sc.Err())
	}()
	resp.Body = pr
	return nil
}

// filterModels keeps, of the gateway's model list, the models the caller
// may use, and `auto` (routing picks among the caller's routes).
func filterModels(resp *http.Response, patterns []string) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	var list struct {
		Object string            `json:"object"`
		Data   []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return err
	}
	kept := []json.RawMessage{}
	for _, d := range list.Data {
		var m struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(d, &m) == nil && (m.ID == "auto" || allowed(patterns, m.ID)) {
			kept = append(kept, d)
		}
	}
	list.Data = kept
	if body, err = json.Marshal(list); err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return nil
}

// metered is one admitted chat request on its way through the gateway.
type metered struct {
	res    *reservation
	prompt int64
	count  counter // the model's encoding
	// owned: the meter has the answer and settles the reservation.
	owned atomic.Bool
	// resolved is the model that answered.
	resolved atomic.Pointer[string]
}
