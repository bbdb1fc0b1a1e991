package acctest

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/openziti/edge-api/rest_management_api_client/api_session"

	"github.com/agentmesh/agentmesh/reconciler/controller"
)

var (
	jwtPattern     = regexp.MustCompile(`eyJ[\w-]{8,}\.(eyJ[\w-]{8,})\.[\w-]{8,}`)
	sessionPattern = regexp.MustCompile(`(?i)zt-session["':= ]+[0-9a-f]{8}-[0-9a-f]{4}-`)
	keyPattern     = regexp.MustCompile(`-----BEGIN (EC |RSA )?PRIVATE KEY-----`)
)

// Finding is one secret seen in a log.
type Finding struct{ File, What string }

// ScanLogs reads every *.log under dir and reports each known secret it
// finds, plus anything shaped like one whatever its origin: an enrollment
// or session JWT, a zt-session header value, a PEM private key.
func ScanLogs(dir string, known map[string]string) (findings []Finding, files int, bytes int64, err error) {
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".log") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		bytes += int64(len(b))
		text := string(b)
		for what, s := range known {
			if i := strings.Index(text, s); len(s) >= 8 && i >= 0 {
				// Where it leaked, never the secret itself.
				findings = append(findings, Finding{p, what + " after «" + strings.ReplaceAll(text[max(0, i-160):i], "\n", " ") + "»"})
			}
		}
		for _, m := range jwtPattern.FindAllStringSubmatch(text, -1) {
			claims, err := base64.RawURLEncoding.DecodeString(m[1])
			if err == nil && (strings.Contains(string(claims), `"em":`) || strings.Contains(string(claims), `"z":`)) {
				findings = append(findings, Finding{p, "a Ziti enrollment or session JWT"})
			}
		}
		if sessionPattern.MatchString(text) {
			findings = append(findings, Finding{p, "a zt-session header value"})
		}
		if keyPattern.MatchString(text) {
			findings = append(findings, Finding{p, "a PEM private key"})
		}
		return nil
	})
	return findings, files, bytes, err
}

// ReportScan prints one line per finding and a summary.
func ReportScan(w interface{ Write([]byte) (int, error) }, findings []Finding, files int, bytes int64, known int) {
	for _, f := range findings {
		fmt.Fprintf(w, "SECRET LEAK: %s in %s\n", f.What, filepath.Base(f.File))
	}
	fmt.Fprintf(w, "secret scan: %d log files, %d bytes, %d known secrets and 3 secret shapes looked for; %d found\n", files, bytes, known, len(findings))
}

// liveSessionTokens lists the tokens of the controller's API sessions.
func liveSessionTokens(c *controller.Client) map[string]string {
	out := map[string]string{}
	l, err := c.API.APISession.ListAPISessions(api_session.NewListAPISessionsParams().WithLimit(&maxPage), nil)
	if err != nil {
		return out
	}
	for _, s := range l.Payload.Data {
		if s.Token != nil && s.ID != nil {
			out["API session token "+*s.ID] = *s.Token
		}
	}
	return out
}

var maxPage int64 = 500
