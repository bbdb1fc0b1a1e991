package agent_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/gateways/llmfront"
	"github.com/agentmesh/agentmesh/reconciler"
)

func TestMain(m *testing.M) { acctest.Main(m) }

func enrolled(t *testing.T, e *reconciler.Engine, name, kind string) (string, ziti.Context) {
	t.Helper()
	ctx := context.Background()
	o, err := e.CreateIdentity(ctx, &reconciler.Identity{Name: name, Organization: "dp-co", Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteIdentity(ctx, o.ID) })
	_, cfg, err := acctest.Enroll(o.EnrollmentJWT, t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	z, err := ziti.NewContext(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(z.Close)
	return o.ID, z
}

// client speaks HTTP over a Ziti connection to one service.
func client(z ziti.Context, svc string) *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			_ = z.RefreshServices()
			return z.Dial(svc)
		},
	}}
}

// chat sends one chat completion for model through c.
func chat(c *http.Client, model string) (int, string, error) {
	resp, err := c.Post("http://llm/v1/chat/completions", "application/json", strings.NewReader(fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi"}]}`, model)))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// runGateway runs the real llm-gateway on a rendered config (loopback, a
// local upstream) until the test ends, and returns its URL.
func runGateway(t *testing.T, upstream string, routes []gateways.LLMRoute, keys ...gateways.VirtualKey) *url.URL {
	t.Helper()
	gw, err := acctest.StartLLMGateway(context.Background(), t.TempDir(), &gateways.Table{Gateway: "real", Kind: gateways.KindLLM,
		LLM: &gateways.LLMSettings{Local: &gateways.LocalProvider{BaseURL: upstream}}, LLMRoutes: routes, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Stop)
	return &url.URL{Scheme: "http", Host: gw.Addr}
}

// TestLLMDataPlaneOverZiti: an enrolled agent dials its own dark
// data-plane service and gets an answer for an allowed model, a 403 for a
// model outside its routes and a 429 after its budget; an identity outside
// the audience cannot dial the service at all.
func TestLLMDataPlaneOverZiti(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := acctest.Engine(t)
	gwID, gwZiti := enrolled(t, e, "dp-gateway", reconciler.KindGateway)
	agentID, agentZiti := enrolled(t, e, "dp-agent", reconciler.KindAgent)
	_, outsiderZiti := enrolled(t, e, "dp-outsider", reconciler.KindAgent)

	services, err := e.EnsureDataPlane(ctx, "llm1", gwID, map[string]string{agentID: "dp-agent"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = e.EnsureDataPlane(context.Background(), "llm1", gwID, nil) })
	svc := reconciler.DataPlaneService("llm1", "dp-agent")
	if services[svc] != "dp-agent" || len(services) != 1 {
		t.Fatalf("services %v", services)
	}

	// A local model, the real llm-gateway with a rendered config, and the
	// front; the gateway listens on loopback only.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"choices":[{"message":{"content":"over ziti"}}],"usage":{"total_tokens":60}}`)
	}))
	defer up.Close()
	key := "sk-gw-" + strings.Repeat("c", 64)
	gwURL := runGateway(t, up.URL, []gateways.LLMRoute{{Name: "chat", Model: "llama3"}},
		gateways.VirtualKey{Identity: "dp-agent", Key: key, AllowedModels: []string{"llama3"}})
	front := llmfront.New(gwURL, nil)
	front.SetGrants(map[string]llmfront.Grant{"dp-agent": {Key: key, AllowedModels: []string{"llama3"}, Budget: 100, Period: time.Hour}})
	served := make(chan error, 1)
	go func() { served <- agent.ServeDataPlane(ctx, gwZiti, services, front, 30*time.Second) }()

	ac := client(agentZiti, svc)
	var (
		code int
		body string
	)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, err = chat(ac, "llama3")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond) // the terminator may not be up yet
	}
	if err != nil || code != 200 || !strings.Contains(body, "over ziti") {
		t.Fatalf("allowed model over Ziti: %d %s %v", code, body, err)
	}
	if code, body, err := chat(ac, "gpt-4o"); err != nil || code != 403 {
		t.Fatalf("model outside the routes: %d %s %v", code, body, err)
	}
	if code, _, err := chat(ac, "llama3"); err != nil || code != 200 {
		t.Fatalf("second request within budget (60 of 100): %d %v", code, err)
	}
	if code, body, err := chat(ac, "llama3"); err != nil || code != 429 {
		t.Fatalf("after the budget: %d %s %v", code, body, err)
	}
	if _, _, err := chat(client(outsiderZiti, svc), "llama3"); err == nil {
		t.Fatal("an identity outside the audience reached the data plane")
	}
	if _, seen := outsiderZiti.GetService(svc); seen {
		t.Fatal("an identity outside the audience can see the data-plane service")
	}
	if _, seen := agentZiti.GetService(svc); !seen {
		t.Fatal("the audience identity cannot see its data-plane service; the visibility check proves nothing")
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
