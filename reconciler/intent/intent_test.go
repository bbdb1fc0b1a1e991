package intent

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestIdentityValidate(t *testing.T) {
	valid := func() Identity {
		return Identity{Name: "pulse-agent", Organization: "macro-co", Kind: KindAgent, RoleAttributes: []string{"analyst"}, Tags: map[string]string{"team": "x"}}
	}
	cases := []struct {
		name   string
		mutate func(*Identity)
		want   string // substring of the error; "" means valid
	}{
		{"valid", func(*Identity) {}, ""},
		{"empty name", func(i *Identity) { i.Name = "" }, "name: must not be empty"},
		{"blank name", func(i *Identity) { i.Name = "   " }, "name: must not be empty"},
		{"padded name", func(i *Identity) { i.Name = " a" }, "name: must not start or end with white space"},
		{"long name", func(i *Identity) { i.Name = strings.Repeat("a", MaxNameLength+1) }, "at most 128"},
		{"newline in name", func(i *Identity) { i.Name = "a\nb" }, "control or format"},
		{"zero-width joiner in name", func(i *Identity) { i.Name = "a\u200db" }, "control or format"},
		{"invalid UTF-8", func(i *Identity) { i.Name = "a\xffb" }, "UTF-8"},
		{"unicode name is fine", func(i *Identity) { i.Name = "agent-ÿ-東京" }, ""},
		{"upper-case org", func(i *Identity) { i.Organization = "Macro" }, "organization:"},
		{"org with dot", func(i *Identity) { i.Organization = "a.b" }, "organization:"},
		{"unknown kind", func(i *Identity) { i.Kind = "robot" }, `kind: "robot" is not a kind`},
		{"reserved org attr", func(i *Identity) { i.RoleAttributes = []string{"org.x"} }, `reserved prefix "org."`},
		{"reserved wg attr, any case", func(i *Identity) { i.RoleAttributes = []string{"WG.x"} }, `reserved prefix "wg."`},
		{"selector attr", func(i *Identity) { i.RoleAttributes = []string{"@id"} }, "must not start with"},
		{"role selector attr", func(i *Identity) { i.RoleAttributes = []string{"#all"} }, "found '#'"},
		{"sql-looking name", func(i *Identity) { i.Name = "a'; DROP TABLE identities; --" }, `found '\''`},
		{"shell-looking name", func(i *Identity) { i.Name = "$(reboot)" }, "found '$'"},
		{"path-looking name", func(i *Identity) { i.Name = "../../etc/passwd" }, "found '/'"},
		{"filter-looking tag key", func(i *Identity) { i.Tags = map[string]string{`x" or true`: "v"} }, `found '"'`},
		{"reserved tag", func(i *Identity) { i.Tags = map[string]string{"agentmesh_kind": "x"} }, "reserved prefix"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := valid()
			tc.mutate(&in)
			err := in.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalidIntent) {
				t.Fatalf("error %v must wrap ErrInvalidIntent", err)
			}
		})
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"a", "", " a", "a\x00", "東京", "\u202e", strings.Repeat("x", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := ValidateName(s); err == nil {
			if strings.TrimSpace(s) != s || s == "" {
				t.Fatalf("accepted %q", s)
			}
			if strings.ContainsAny(s, "\"'`$;/\\<>|&#(){}[]*?!%=,") {
				t.Fatalf("accepted a metacharacter in %q", s)
			}
			for _, r := range s {
				if r < 0x20 || r == 0x7f {
					t.Fatalf("accepted control character in %q", s)
				}
			}
		}
	})
}

func TestUnenforcedTerms(t *testing.T) {
	c := &Contract{MaxDurationSeconds: 30, MaxMessageCount: 10, MaxMessageBytes: 1024, AllowedMessageTypes: []string{"ping"}}
	if got := fmt.Sprint(UnenforcedTerms(c, "direct")); got != "[max_duration_seconds max_message_count max_message_bytes allowed_message_types]" {
		t.Fatalf("direct: %s", got)
	}
	if got := UnenforcedTerms(c, ""); len(got) != 4 {
		t.Fatalf("no hosting is direct: %v", got)
	}
	if got := UnenforcedTerms(c, "guarded"); len(got) != 0 {
		t.Fatalf("guarded: %v", got)
	}
	if got := UnenforcedTerms(&Contract{AllowedMessageTypes: []string{"*"}}, "direct"); len(got) != 0 {
		t.Fatalf("a contract that bounds nothing leaves nothing unenforced: %v", got)
	}
	if got := fmt.Sprint(UnenforcedTerms(&Contract{}, "direct")); got != "[allowed_message_types]" {
		t.Fatalf("no allowed type (none allowed) on a direct endpoint: %s", got)
	}
	if err := (&Endpoint{Name: "e", Host: "h", Workgroups: []string{"w"}, Contract: "c", Hosting: "tunnel"}).Validate(); err == nil || !strings.Contains(err.Error(), "hosting") {
		t.Fatalf("an unknown hosting: %v", err)
	}
}
