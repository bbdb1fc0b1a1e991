package controller

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadConfigurationBeatsEnvironment(t *testing.T) {
	dir := t.TempDir()
	idFile := filepath.Join(dir, "id.json")
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(idFile, []byte(`{"from":"file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, []byte("configured CA"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"AGENTMESH_ENDPOINT": "https://env:1280", "AGENTMESH_USERNAME": "env-user", "AGENTMESH_PASSWORD": "env-pass",
		"AGENTMESH_IDENTITY_JSON": `{"from":"env"}`, "AGENTMESH_CA_PEM": "env CA", "AGENTMESH_MAX_RETRIES": "3",
		"AGENTMESH_GATEWAY_TIMEOUT_SECONDS": "45",
	}
	getenv := func(k string) string { return env[k] }
	str := func(s string) *string { return &s }
	num := func(n int64) *int64 { return &n }

	// The environment alone: every variable is read.
	l, err := Load(Settings{}, getenv)
	if err != nil || l.Config.URL != "https://env:1280" || string(l.Config.IdentityJSON) != `{"from":"env"}` || l.Config.Username != "env-user" ||
		string(l.Config.CAPEM) != "env CA" || l.Config.MaxRetries != 3 || l.GatewayTimeout != 45*time.Second {
		t.Fatalf("environment only: %+v %v", l, err)
	}
	// A configured identity file: no credential comes from the
	// environment, not even a password or identity JSON it did not name.
	l, err = Load(Settings{Endpoint: str("https://hcl:1280"), IdentityFile: &idFile, CAFile: &caFile, MaxRetries: num(0), GatewayTimeout: num(5)}, getenv)
	if err != nil || l.Config.URL != "https://hcl:1280" || string(l.Config.IdentityJSON) != `{"from":"file"}` || l.Config.Username != "" || l.Config.Password != "" ||
		string(l.Config.CAPEM) != "configured CA" || l.Config.MaxRetries != 0 || l.GatewayTimeout != 5*time.Second {
		t.Fatalf("configured identity file and CA file: %+v %v", l, err)
	}
	// A configured username: the environment's identity is ignored.
	l, err = Load(Settings{Username: str("hcl-user"), Password: str("hcl-pass")}, getenv)
	if err != nil || len(l.Config.IdentityJSON) != 0 || l.Config.Username != "hcl-user" {
		t.Fatalf("configured username: %+v %v", l, err)
	}
	// Bad values name their setting.
	for name, tc := range map[string]struct {
		s       Settings
		env     string
		value   string
		setting string
	}{
		"retries":     {Settings{}, "AGENTMESH_MAX_RETRIES", "many", "max_retries"},
		"retries cap": {Settings{MaxRetries: num(51)}, "", "", "max_retries"},
		"timeout":     {Settings{}, "AGENTMESH_GATEWAY_TIMEOUT_SECONDS", "0", "gateway_timeout_seconds"},
		"insecure":    {Settings{}, "AGENTMESH_INSECURE", "yes please", "insecure"},
		"id file":     {Settings{IdentityFile: str(filepath.Join(dir, "missing.json"))}, "", "", "identity_file"},
	} {
		bad := map[string]string{tc.env: tc.value}
		_, err := Load(tc.s, func(k string) string { return bad[k] })
		var se *SettingError
		if !errors.As(err, &se) || se.Setting != tc.setting || !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
