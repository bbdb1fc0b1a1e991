package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/reconciler"
)

// gatewayBin is the binary the agent supervises (acctest.SupervisedGateway).
func gatewayBin(t *testing.T, name string) string {
	t.Helper()
	bin, err := acctest.SupervisedGateway(t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// usageOf is what the gateway's agent reports for one identity.
func usageOf(t *testing.T, e *reconciler.Engine, gateway, identity string) gateways.Usage {
	t.Helper()
	r, err := e.GatewayStatus(context.Background(), gateway)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range r.Usage {
		if u.Identity == identity {
			u.PeriodStart = u.PeriodStart.UTC()
			return u
		}
	}
	return gateways.Usage{}
}

// chatAs sends one chat completion for model as the enrolled identity z,
// over its data-plane service svc, retrying until the service's
// terminator is up.
func chatAs(z ziti.Context, svc, model string) (int, string, error) {
	return chatSaying(z, svc, model, "hello")
}

// chatSaying is chatAs with the user's message.
func chatSaying(z ziti.Context, svc, model, message string) (int, string, error) {
	return acctest.Chat(z, svc, model, message)
}

// packagedAgent runs the packaged gateway agent (what `agentmesh
// gateway-agent` runs) in-process until stopped, logging where the secret
// scan reads.
type packagedAgent struct {
	cfg  agent.Config
	stop context.CancelFunc
	done chan struct{}
}

func (p *packagedAgent) start(t *testing.T) {
	t.Helper()
	logFile, err := acctest.LogFile("gateway-agent-" + filepath.Base(p.cfg.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop, p.done = cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		defer logFile.Close()
		if err := agent.Run(ctx, &p.cfg, slog.New(slog.NewTextHandler(logFile, nil))); err != nil && ctx.Err() == nil {
			t.Errorf("the gateway agent stopped: %v", err)
		}
	}()
}

// answering waits until the agent has bound its control service.
func (p *packagedAgent) answering(t *testing.T) error {
	_, e := admin(t)
	gateway := strings.TrimPrefix(p.cfg.ControlService, "agentmesh.ctl.")
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := e.GatewayStatus(context.Background(), gateway)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// enrollAndStart is a step check that enrolls agentmesh_identity.gw, as
// the gateway host would, and starts the agent with it.
func (p *packagedAgent) enrollAndStart(t *testing.T, dir string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		attrs := s.RootModule().Resources["agentmesh_identity.gw"].Primary.Attributes
		gwFile, _, err := acctest.Enroll(attrs["enrollment_jwt"], dir, "gw")
		if err != nil {
			return err
		}
		p.cfg.IdentityFile = gwFile
		p.start(t)
		return p.answering(t)
	}
}

func (p *packagedAgent) halt() {
	if p.stop != nil {
		p.stop()
		<-p.done
		p.stop = nil
	}
}

// openAIUpstream stands in for api.openai.com and records the bearer keys
// it was called with.
type openAIUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	keys []string
}

func newOpenAIUpstream() *openAIUpstream {
	u := &openAIUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.keys = append(u.keys, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		u.mu.Unlock()
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"choices":[{"message":{"content":"hosted"}}],"usage":{"total_tokens":7}}`)
	}))
	return u
}

func (u *openAIUpstream) lastKey() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.keys) == 0 {
		return ""
	}
	return u.keys[len(u.keys)-1]
}

// hostedConfig takes the key from TF_VAR_openai_key (set by each step's
// PreConfig), so the test's own configuration, which the harness logs,
// never holds it.
func hostedConfig(port, upstream string, version int, model string) string {
	route := ""
	if model != "" {
		route = fmt.Sprintf(`
resource "agentmesh_llm_route" "coding" {
  gateway    = agentmesh_gateway.llm.name
  name       = "coding"
  model      = %q
  identities = [agentmesh_identity.member.id]
}`, model)
	}
	return fmt.Sprintf(`
variable "openai_key" {
  type      = string
  sensitive = true
  ephemeral = true
}
resource "agentmesh_identity" "gw" {
  name = "acc-hosted-agent"
  kind = "gateway"
}
resource "agentmesh_identity" "member" {
  name = "acc-hosted-member"
}
resource "agentmesh_gateway" "llm" {
  name                = "acc-hosted"
  identity            = agentmesh_identity.gw.id
  listen              = "127.0.0.1:%s"
  openai_api_key_wo   = var.openai_key
  openai_base_url     = "%s"
  api_keys_wo_version = %d
}
%s`, port, upstream, version, route)
}

// TestAccGateway_hostedProviderKeys: an OpenAI key set write-only on the
// gateway is never in state; it reaches the running gateway through the
// packaged agent once that agent runs (the plan shows the pending
// delivery until then), survives an agent restart without travelling
// again, and a raised version rotates it.
func TestAccGateway_hostedProviderKeys(t *testing.T) {
	up := newOpenAIUpstream()
	defer up.Close()
	key1 := acctest.Secret("openai key 1", "sk-test-hosted-"+strings.Repeat("1", 40))
	key2 := acctest.Secret("openai key 2", "sk-test-hosted-"+strings.Repeat("2", 40))
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	listen := l.Addr().String()
	l.Close()
	port := listen[strings.LastIndex(listen, ":")+1:]
	bin := gatewayBin(t, "llm-gateway")
	dir := t.TempDir()
	ag := &packagedAgent{cfg: agent.Config{Kind: "llm", ControlService: "agentmesh.ctl.acc-hosted", StateDir: filepath.Join(dir, "state"),
		Command: []string{bin, "run", "{config}"}, Listen: listen}}
	defer ag.halt()
	var member ziti.Context
	enrollAndStart := func(s *terraform.State) error {
		attrs := func(addr string) map[string]string { return s.RootModule().Resources[addr].Primary.Attributes }
		if _, ok := attrs("agentmesh_gateway.llm")["openai_api_key_wo"]; ok {
			return fmt.Errorf("the write-only key is in state")
		}
		if v := attrs("agentmesh_gateway.llm")["api_keys_applied_version"]; v != "" {
			return fmt.Errorf("keys reported delivered (%q) with no agent running", v)
		}
		gwFile, _, err := acctest.Enroll(attrs("agentmesh_identity.gw")["enrollment_jwt"], dir, "gw")
		if err != nil {
			return err
		}
		_, memberCfg, err := acctest.Enroll(attrs("agentmesh_identity.member")["enrollment_jwt"], dir, "member")
		if err != nil {
			return err
		}
		if member, err = ziti.NewContext(memberCfg); err != nil {
			return err
		}
		ag.cfg.IdentityFile = gwFile
		ag.start(t)
		return ag.answering(t)
	}
	var upstreamSeesFor func(model, want string) resource.TestCheckFunc
	asks := func(model string) (int, string, error) {
		return chatAs(member, reconciler.DataPlaneService("acc-hosted", "acc-hosted-member"), model)
	}
	upstreamSees := func(want string) resource.TestCheckFunc { return upstreamSeesFor("gpt-4o", want) }
	upstreamSeesFor = func(model, want string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			code, body, err := asks(model)
			if err != nil || code != 200 || !strings.Contains(body, "hosted") {
				return fmt.Errorf("gpt-4o through the gateway: %d %s %w", code, body, err)
			}
			if up.lastKey() != want {
				return fmt.Errorf("OpenAI was called with another key than the one applied")
			}
			return nil
		}
	}
	private := func(*terraform.State) error {
		for _, f := range []string{"secrets.json", "keys.json", "llm-gateway.yaml", "table.json"} {
			st, err := os.Stat(filepath.Join(ag.cfg.StateDir, f))
			if err != nil {
				return err
			}
			if st.Mode().Perm() != 0o600 {
				return fmt.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
			}
		}
		if b, _ := os.ReadFile(filepath.Join(ag.cfg.StateDir, "table.json")); len(b) == 0 || strings.Contains(string(b), key1) {
			return fmt.Errorf("the kept table is missing or holds the provider key")
		}
		var held map[string]json.RawMessage
		b, _ := os.ReadFile(filepath.Join(ag.cfg.StateDir, "secrets.json"))
		if err := json.Unmarshal(b, &held); err != nil || len(held) != 1 {
			return fmt.Errorf("the agent holds %d secrets (%w), want the OpenAI key only", len(held), err)
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy:             identityGone(t),
		Steps: []resource.TestStep{
			{
				PreConfig: func() { t.Setenv("TF_VAR_openai_key", key1) },
				// No agent yet: the key cannot travel, the apply says so and
				// the next plan shows the pending delivery.
				Config:             hostedConfig(port, up.URL, 1, ""),
				Check:              resource.ComposeAggregateTestCheckFunc(resource.TestCheckResourceAttr("agentmesh_gateway.llm", "hosted_providers.0", "open_ai"), enrollAndStart),
				ExpectNonEmptyPlan: true,
			},
			{
				// The agent runs: the update delivers the key, the route to a
				// hosted model is accepted and served with that key.
				Config: hostedConfig(port, up.URL, 1, "gpt-4o"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("agentmesh_gateway.llm", "api_keys_applied_version", "1"),
					resource.TestCheckNoResourceAttr("agentmesh_gateway.llm", "openai_api_key_wo"),
					upstreamSees(key1), private,
				),
			},
			{
				// The agent restarts: it resumes its last table (keys from its
				// own state) and the usage of the period, so there is nothing
				// to re-push and budgets are not reset.
				PreConfig: func() {
					_, e := admin(t)
					before := usageOf(t, e, "acc-hosted", "acc-hosted-member")
					ag.halt()
					ag.start(t)
					if err := ag.answering(t); err != nil {
						t.Fatal(err)
					}
					if pushed, err := e.RepushGateways(context.Background()); err != nil || len(pushed) != 0 {
						t.Fatalf("a resumed agent was pushed again: %v %v", pushed, err)
					}
					if after := usageOf(t, e, "acc-hosted", "acc-hosted-member"); after != before || before.Tokens == 0 {
						t.Fatalf("usage across the restart: %+v, then %+v", before, after)
					}
				},
				Config: hostedConfig(port, up.URL, 1, "gpt-4o"),
				Check:  upstreamSees(key1),
			},
			{
				PreConfig: func() { t.Setenv("TF_VAR_openai_key", key2) },
				// A new key with a raised version rotates it in place.
				Config: hostedConfig(port, up.URL, 2, "gpt-4o"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("agentmesh_gateway.llm", "api_keys_applied_version", "2"),
					upstreamSees(key2),
				),
			},
			{
				// Changing the route's model changes what the running gateway
				// allows, within the same apply.
				Config: hostedConfig(port, up.URL, 2, "gpt-4o-mini"),
				Check: resource.ComposeAggregateTestCheckFunc(
					upstreamSeesFor("gpt-4o-mini", key2),
					func(*terraform.State) error {
						if code, body, err := asks("gpt-4o"); err != nil || code != 403 {
							return fmt.Errorf("the replaced model is still served: %d %s %w", code, body, err)
						}
						return nil
					},
				),
			},
			{ResourceName: "agentmesh_gateway.llm", ImportState: true, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"api_keys_applied_version"}},
			{
				// Removing the provider under a route that needs it is refused
				// before anything changes.
				Config: strings.NewReplacer("  openai_api_key_wo   = var.openai_key\n", "", `  openai_base_url     = "`+up.URL+`"`+"\n", "").
					Replace(hostedConfig(port, up.URL, 2, "gpt-4o-mini")),
				ExpectError: acctest.ErrorText(`sends model "gpt-4o-mini" to provider open_ai, which this gateway does not configure`),
			},
			{
				Config:   hostedConfig(port, up.URL, 2, "gpt-4o-mini"),
				PlanOnly: true,
			},
		},
	})
}
