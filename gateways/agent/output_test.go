package agent

import (
	"fmt"
	"strings"
	"testing"
)

func TestOutputTailReadyShareAndRedactedFailure(t *testing.T) {
	const token = "res3rvedshare"
	o := newOutputTail(ReadyMCP, []string{"ghp_literalsecret"})
	select {
	case <-o.ready:
		t.Fatal("ready before the gateway said so")
	default:
	}
	// Written in pieces, as a pipe delivers it.
	for _, chunk := range []string{`{"msg":"created zrok share","share_token":"` + token, `"}` + "\n{\n  \"share_token\": \"" + token + "\"\n}\n", `{"msg":"serving mcp over zrok share"}` + "\n"} {
		if _, err := o.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-o.ready:
	default:
		t.Fatal("the serving line did not mark the gateway ready")
	}
	if got := o.shareToken(); got != token {
		t.Fatalf("share token %q", got)
	}
	lines := []string{
		`{"level":"ERROR","msg":"failed to start: failed to create listener for share '` + token + `': denied"}`,
		`{"level":"ERROR","msg":"failed to start","share_token":"` + token + `"}`,
		`ERROR backend 'gh' env GITHUB_TOKEN=ghp_literalsecret failed`,
		`ERROR upstream said: Authorization: Bearer abc.def.ghi failed`,
		`ERROR key sk-gw-0123456789abcdef failed`,
	}
	secrets := []string{token, "ghp_literalsecret", "abc.def.ghi", "sk-gw-0123456789abcdef"}
	for i, line := range lines {
		fmt.Fprintln(o, line)
		f := o.failure()
		if !strings.Contains(f, "failed") || !strings.Contains(f, "<redacted>") {
			t.Fatalf("line %d: failure %q does not carry the gateway's reason, redacted", i, f)
		}
		for _, secret := range secrets {
			if strings.Contains(f, secret) {
				t.Errorf("line %d: failure %q carries %q", i, f, secret)
			}
		}
	}
}
