package acctest_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentmesh/agentmesh/acctest"
)

// TestScanLogsFindsSecrets proves the scanner can fail: it must see a known
// secret, an enrollment JWT it was never told about, a zt-session header
// and a private key, and stay quiet on a clean log.
func TestScanLogsFindsSecrets(t *testing.T) {
	dir := t.TempDir()
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://127.0.0.1:1280","em":"ott","jti":"x"}`))
	jwt := "eyJhbGciOiJSUzI1NiJ9." + claims + ".c2lnbmF0dXJlc2lnbmF0dXJl"
	leaky := "password=hunter2-but-longer\nenroll " + jwt + "\nzt-session: 0d0c3c3e-1111-2222-3333-444455556666\n-----BEGIN EC PRIVATE KEY-----\n"
	if err := os.WriteFile(filepath.Join(dir, "leaky.log"), []byte(leaky), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "clean.log"), []byte("management API request method=GET path=/identities status=200\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	findings, files, _, err := acctest.ScanLogs(dir, map[string]string{"password": "hunter2-but-longer"})
	if err != nil {
		t.Fatal(err)
	}
	if files != 2 || len(findings) != 4 {
		t.Fatalf("files=%d findings=%+v, want 2 files and 4 findings", files, findings)
	}
	for _, f := range findings {
		if filepath.Base(f.File) != "leaky.log" {
			t.Fatalf("false positive in %s: %s", f.File, f.What)
		}
	}
}
