package sdklog

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestQuietRedactsTheSDKsSecrets(t *testing.T) {
	var buf bytes.Buffer
	Quiet(&buf)
	token := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJl"
	session := "zt-session: 0b2f6a3e-5c1d-4e8f-9a7b-1c2d3e4f5a6b"
	key := "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----"
	logrus.WithField("sessionId", token).Error("failed to close " + session + " " + key)
	logrus.Info("chatter")
	out := buf.String()
	for _, secret := range []string{token, "0b2f6a3e-5c1d", "MHcCAQEEIB"} {
		if strings.Contains(out, secret) {
			t.Fatalf("leaked %q in %s", secret, out)
		}
	}
	if !strings.Contains(out, "[redacted token]") || !strings.Contains(out, "failed to close") || strings.Contains(out, "chatter") {
		t.Fatalf("output %q", out)
	}
}
