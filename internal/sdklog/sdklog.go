// Package sdklog tames the log output of sdk-golang, which logs through
// logrus: some of its error lines carry the edge session token (a failed
// close logs sessionId=<JWT>, seen with v1.5.4). Every program of ours that
// embeds the SDK calls Quiet before opening a Ziti context.
package sdklog

import (
	"io"
	"regexp"

	"github.com/sirupsen/logrus"
)

var (
	jwtShape     = regexp.MustCompile(`eyJ[\w-]+\.eyJ[\w-]+\.[\w-]*`)
	sessionShape = regexp.MustCompile(`(?i)(zt-session["':= ]+)[0-9a-f-]{36}`)
	keyShape     = regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----`)
)

// Redact replaces every token, session id and private key in b.
func Redact(b []byte) []byte {
	b = jwtShape.ReplaceAll(b, []byte("[redacted token]"))
	b = sessionShape.ReplaceAll(b, []byte("${1}[redacted]"))
	return keyShape.ReplaceAll(b, []byte("[redacted private key]"))
}

// Quiet sends the SDK's warnings and errors, redacted, to w and drops its
// chatter.
func Quiet(w io.Writer) {
	logrus.SetOutput(w)
	logrus.SetLevel(logrus.WarnLevel)
	logrus.SetFormatter(redacting{&logrus.TextFormatter{DisableColors: true}})
}

type redacting struct{ logrus.Formatter }

func (r redacting) Format(e *logrus.Entry) ([]byte, error) {
	b, err := r.Formatter.Format(e)
	return Redact(b), err
}
