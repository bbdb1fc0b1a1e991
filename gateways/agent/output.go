package agent

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
)

// outputTail keeps the last lines a gateway printed, closes ready when the
// line that says it serves appears, and names why a start failed. The
// gateway's own output is never logged or reported whole: mcp-gateway
// logs its share token, so only failure lines travel, redacted.
type outputTail struct {
	marker string
	ready  chan struct{}
	// secrets are the literal values the gateway's config holds.
	secrets []string

	mu      sync.Mutex
	partial []byte
	lines   []string
	seen    bool
	share   string // the share token the gateway said it serves on
}

var shareLine = regexp.MustCompile(`"share_token"\s*:\s*"([^"]+)"`)

const tailLines = 50

func newOutputTail(marker string, secrets []string) *outputTail {
	return &outputTail{marker: marker, ready: make(chan struct{}), secrets: secrets}
}

func (o *outputTail) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		line := string(o.partial[:i])
		o.partial = o.partial[i+1:]
		if o.marker != "" && !o.seen && strings.Contains(line, o.marker) {
			o.seen = true
			close(o.ready)
		}
		if m := shareLine.FindStringSubmatch(line); m != nil {
			o.share = m[1]
		}
		o.lines = append(o.lines, line)
		if len(o.lines) > tailLines {
			o.lines = o.lines[1:]
		}
	}
	if len(o.partial) > 64<<10 {
		o.partial = o.partial[:0]
	}
	return len(p), nil
}

// secretShapes are values a gateway may print that must not travel: share
// tokens (mcp-gateway logs them) and keys.
var secretShapes = regexp.MustCompile(`(?i)(share_token["=:\s]+"?)[^"\s,}]+|sk-[a-z0-9_-]{8,}|(bearer\s+)\S+|(share ')[^']+`)

// redact removes the config's own secret values from a line, then
// anything shaped like a token.
func (o *outputTail) redact(s string) string {
	for _, v := range o.secrets {
		s = strings.ReplaceAll(s, v, "<redacted>")
	}
	return secretShapes.ReplaceAllStringFunc(s, func(m string) string {
		sub := secretShapes.FindStringSubmatch(m)
		for _, prefix := range sub[1:] {
			if prefix != "" {
				return prefix + "<redacted>"
			}
		}
		return "<redacted>"
	})
}

// saidReady says whether the ready marker has appeared.
func (o *outputTail) saidReady() bool {
	select {
	case <-o.ready:
		return true
	default:
		return false
	}
}

func (o *outputTail) shareToken() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.share
}

// failure is ": <the gateway's last error lines>", or "" when it printed
// none.
func (o *outputTail) failure() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	lines := append([]string(nil), o.lines...)
	if len(o.partial) > 0 {
		lines = append(lines, string(o.partial))
	}
	var hits []string
	for _, l := range lines {
		ll := strings.ToLower(l)
		if strings.Contains(ll, "error") || strings.Contains(ll, "failed") || strings.Contains(ll, "panic") {
			hits = append(hits, strings.TrimSpace(o.redact(l)))
		}
	}
	if len(hits) > 3 {
		hits = hits[len(hits)-3:]
	}
	if len(hits) == 0 {
		return ""
	}
	return ": " + strings.Join(hits, "; ")
}
