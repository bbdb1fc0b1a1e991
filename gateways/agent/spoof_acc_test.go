package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	edge_apis "github.com/openziti/sdk-golang/edge-apis"
	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/agent"
	"github.com/agentmesh/agentmesh/gateways/llmfront"
	"github.com/agentmesh/agentmesh/reconciler"
)

// forgeCallerID makes z send name as its CallerId on the next dials. The
// SDK copies CallerId from the cached API session's identity name and
// ziti.DialOptions has no field for it, so a hostile client would patch
// exactly this.
func forgeCallerID(z ziti.Context, name string) error {
	impl, ok := z.(*ziti.ContextImpl)
	if !ok {
		return fmt.Errorf("unexpected ziti context %T", z)
	}
	switch s := impl.CtrlClt.GetCurrentApiSession().(type) {
	case *edge_apis.ApiSessionOidc:
		s.OidcTokens.IDTokenClaims.Name = name
	case *edge_apis.ApiSessionLegacy:
		s.Detail.Identity.Name = name
	default:
		return fmt.Errorf("cannot forge CallerId on API session %T", s)
	}
	return nil
}

// forgedClient dials svc with a forged CallerId; no keep-alive, so every
// request is a fresh, forged dial.
func forgedClient(z ziti.Context, svc, claimed string) *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			_ = z.RefreshServices()
			// Forge after the refresh: a re-authentication would
			// replace the patched session.
			if err := forgeCallerID(z, claimed); err != nil {
				return nil, err
			}
			return z.DialWithOptions(svc, &ziti.DialOptions{ConnectTimeout: 10 * time.Second})
		},
	}}
}

// TestCallerIdSpoof: a dialer that sends another identity's name as its
// CallerId gains nothing. The forged name reaches the agent (the router
// passes it through), yet the spoofer gets its own grant, key and budget,
// is charged itself, and cannot dial the victim's service at all.
func TestCallerIdSpoof(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := acctest.Engine(t)
	gwID, gwZiti := enrolled(t, e, "sp-gateway", reconciler.KindGateway)
	victimID, victimZiti := enrolled(t, e, "sp-victim", reconciler.KindAgent)
	spooferID, spooferZiti := enrolled(t, e, "sp-spoofer", reconciler.KindAgent)

	services, err := e.EnsureDataPlane(ctx, "llm-sp", gwID, map[string]string{victimID: "sp-victim", spooferID: "sp-spoofer"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = e.EnsureDataPlane(context.Background(), "llm-sp", gwID, nil) })
	victimSvc := reconciler.DataPlaneService("llm-sp", "sp-victim")
	spooferSvc := reconciler.DataPlaneService("llm-sp", "sp-spoofer")
	if services[victimSvc] != "sp-victim" || services[spooferSvc] != "sp-spoofer" || len(services) != 2 {
		t.Fatalf("services %v", services)
	}

	// Every answer costs 60 tokens and names the model it was asked for.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Model string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"choices":[{"message":{"content":"model=%s"}}],"usage":{"total_tokens":60}}`, req.Model)
	}))
	defer up.Close()
	victimKey := "sk-gw-" + strings.Repeat("v", 64)
	spooferKey := "sk-gw-" + strings.Repeat("s", 64)
	gwURL := runGateway(t, up.URL, []gateways.LLMRoute{{Name: "big", Model: "llama3"}, {Name: "small", Model: "mistral"}},
		gateways.VirtualKey{Identity: "sp-victim", Key: victimKey, AllowedModels: []string{"llama3"}},
		gateways.VirtualKey{Identity: "sp-spoofer", Key: spooferKey, AllowedModels: []string{"mistral"}})

	// Between the front and the gateway: record which key was forwarded,
	// by owner only, so no key ends up in a log.
	var (
		mu      sync.Mutex
		keys    []string // owner of each key the gateway received
		callers []string // CallerId of the edge conn behind each request
	)
	owner := map[string]string{"Bearer " + victimKey: "sp-victim", "Bearer " + spooferKey: "sp-spoofer"}
	proxy := httputil.NewSingleHostReverseProxy(gwURL)
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, ok := owner[r.Header.Get("Authorization")]
		if !ok {
			o = "<unknown key>"
		}
		mu.Lock()
		keys = append(keys, o)
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	defer rec.Close()
	recURL, _ := url.Parse(rec.URL)

	front := llmfront.New(recURL, nil)
	front.SetGrants(map[string]llmfront.Grant{
		"sp-victim":  {Key: victimKey, AllowedModels: []string{"llama3"}, Budget: 1000, Period: time.Hour},
		"sp-spoofer": {Key: spooferKey, AllowedModels: []string{"mistral"}, Budget: 50, Period: time.Hour},
	})
	// The edge conn is the http.Server's local address: note the CallerId
	// it carries, to prove the forged name really reached the agent.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src := "<not an edge conn>"
		if c, ok := r.Context().Value(http.LocalAddrContextKey).(interface{ SourceIdentifier() string }); ok {
			src = c.SourceIdentifier()
		}
		mu.Lock()
		callers = append(callers, src)
		mu.Unlock()
		front.ServeHTTP(w, r)
	})
	served := make(chan error, 1)
	go func() { served <- agent.ServeDataPlane(ctx, gwZiti, services, h, 30*time.Second) }()

	last := func(s *[]string) string {
		mu.Lock()
		defer mu.Unlock()
		if len(*s) == 0 {
			return ""
		}
		return (*s)[len(*s)-1]
	}
	count := func(s *[]string) int {
		mu.Lock()
		defer mu.Unlock()
		return len(*s)
	}
	// The terminators may not be up yet: retry dial failures only.
	firstChat := func(c *http.Client, model string) (code int, body string, err error) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, body, err = chat(c, model)
			if err == nil || time.Now().After(deadline) {
				return
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	usage := func() map[string]llmfront.Usage {
		m := map[string]llmfront.Usage{}
		for _, u := range front.Usage() {
			m[u.Identity] = u
		}
		return m
	}

	// The spoofer's genuine name, so the forgery below is a real change.
	_ = spooferZiti.RefreshServices()
	if s := spooferZiti.(*ziti.ContextImpl).CtrlClt.GetCurrentApiSession(); s == nil || s.GetIdentityName() != "sp-spoofer" {
		t.Fatalf("spoofer's API session before forging: %v", s)
	}
	spoof := forgedClient(spooferZiti, spooferSvc, "sp-victim")

	// 1. The victim's model, claiming the victim's name: the spoofer's grant applies.
	code, body, err := firstChat(spoof, "llama3")
	if err != nil || code != 403 || !strings.Contains(body, "sp-spoofer") {
		t.Fatalf("spoofer asking for the victim's model: %d %s %v", code, body, err)
	}
	if got := last(&callers); got != "sp-victim" {
		t.Fatalf("CallerId seen by the agent = %q, want the forged \"sp-victim\" (else this test spoofs nothing)", got)
	}
	if n := count(&keys); n != 0 {
		t.Fatalf("a refused request reached the gateway (%d keys forwarded)", n)
	}

	// 2. Its own model: answered with the spoofer's key, not the victim's.
	if code, body, err := chat(spoof, "mistral"); err != nil || code != 200 || !strings.Contains(body, "model=mistral") {
		t.Fatalf("spoofer's own model: %d %s %v", code, body, err)
	}
	if got := last(&keys); got != "sp-spoofer" {
		t.Fatalf("key forwarded for the forged caller belongs to %q, want sp-spoofer", got)
	}
	if got := last(&callers); got != "sp-victim" {
		t.Fatalf("CallerId seen by the agent = %q, want the forged \"sp-victim\"", got)
	}

	// 3. 60 of 50 tokens spent: the spoofer's budget is gone, whichever
	// name it claims; the victim's model stays refused as not its own.
	for model, want := range map[string]int{"mistral": 429, "llama3": 403} {
		if code, body, err := chat(spoof, model); err != nil || code != want || !strings.Contains(body, "sp-spoofer") {
			t.Fatalf("spoofer after its budget, asking for %s: %d %s %v (want %d)", model, code, body, err, want)
		}
	}
	u := usage()
	if u["sp-spoofer"].Tokens != 60 || u["sp-spoofer"].Requests != 1 || u["sp-victim"].Tokens != 0 || u["sp-victim"].Requests != 0 {
		t.Fatalf("usage after the spoofer's requests: %+v", u)
	}

	// 4. The spoofer cannot reach the victim's service, even with its id.
	if c, err := forgedClient(spooferZiti, victimSvc, "sp-victim").Post("http://llm/v1/chat/completions", "application/json", strings.NewReader(`{"model":"llama3"}`)); err == nil {
		c.Body.Close()
		t.Fatalf("the spoofer reached the victim's service: %d", c.StatusCode)
	}
	_ = victimZiti.RefreshServices()
	vs, ok := victimZiti.GetService(victimSvc)
	if !ok || vs.ID == nil {
		t.Fatal("the victim does not see its own data-plane service")
	}
	if _, err := spooferZiti.(*ziti.ContextImpl).CtrlClt.CreateSession(*vs.ID, ziti.SessionType(ziti.SessionDial)); err == nil {
		t.Fatal("the controller gave the spoofer a dial session on the victim's service")
	}

	// 5. The victim is untouched: its model, its key, its budget.
	n := count(&callers)
	code, body, err = firstChat(client(victimZiti, victimSvc), "llama3")
	if err != nil || code != 200 || !strings.Contains(body, "model=llama3") {
		t.Fatalf("victim after the spoof: %d %s %v", code, body, err)
	}
	if got := last(&keys); got != "sp-victim" {
		t.Fatalf("key forwarded for the victim belongs to %q", got)
	}
	if got := last(&callers); count(&callers) != n+1 || got != "sp-victim" {
		t.Fatalf("victim's CallerId = %q (%d requests after %d)", got, count(&callers), n)
	}
	u = usage()
	if u["sp-victim"].Tokens != 60 || u["sp-victim"].Requests != 1 || u["sp-spoofer"].Tokens != 60 || u["sp-spoofer"].Requests != 1 {
		t.Fatalf("usage after the victim's request: %+v", u)
	}

	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
