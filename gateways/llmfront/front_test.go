package llmfront

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tiktoken-go/tokenizer/codec"

	"github.com/agentmesh/agentmesh/gateways"
)

// fakeGateway answers like llm-gateway with one key: 401 without it, 200
// with usage (JSON or SSE) otherwise. It records the keys it saw.
func fakeGateway(t *testing.T, key string, seen *[]string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*seen = append(*seen, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "Bearer "+key {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var req struct {
			Model     string `json:"model"`
			Stream    bool   `json:"stream"`
			MaxTokens int64  `json:"max_tokens"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.MaxTokens <= 0 || req.MaxTokens > DefaultMaxTokens {
			t.Errorf("a budgeted request reached the gateway with max_tokens %d", req.MaxTokens)
		}
		if req.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":\"w%d\"}}]}\n\n", i)
			}
			fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":8,\"total_tokens\":20}}\n\n")
			fmt.Fprint(w, "data: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"model":%q,"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":20,"completion_tokens":10,"total_tokens":30}}`, req.Model)
	}))
}

type harness struct {
	front *Front
	srv   *httptest.Server
	seen  []string
	now   time.Time
}

// newHarness serves the front; the "network" stamps the identity from a
// test header, as the per-identity Ziti service would.
func newHarness(t *testing.T) *harness {
	h := &harness{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	gw := fakeGateway(t, "sk-gw-pulse", &h.seen)
	t.Cleanup(gw.Close)
	u, _ := url.Parse(gw.URL)
	h.front = New(u, nil)
	h.front.now = func() time.Time { return h.now }
	h.front.SetGrants(map[string]Grant{"pulse-agent": {Key: "sk-gw-pulse", AllowedModels: []string{"llama*"}, Budget: 50, Period: time.Hour}})
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.Header.Get("Test-Verified-Identity"); id != "" {
			r = r.WithContext(WithIdentity(r.Context(), id))
		}
		h.front.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) chat(t *testing.T, identity, model string, stream bool) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"model":%q,"stream":%t,"messages":[{"role":"user","content":"hi"}]}`, model, stream)
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer sk-caller-chose-this")
	if identity != "" {
		req.Header.Set("Test-Verified-Identity", identity)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestFront(t *testing.T) {
	h := newHarness(t)
	if code, _ := h.chat(t, "", "llama3", false); code != http.StatusUnauthorized {
		t.Fatalf("no verified identity: %d", code)
	}
	if code, body := h.chat(t, "mallory", "llama3", false); code != http.StatusForbidden || !strings.Contains(body, "no route") {
		t.Fatalf("unknown identity: %d %s", code, body)
	}
	if code, body := h.chat(t, "pulse-agent", "gpt-4o", false); code != http.StatusForbidden || !strings.Contains(body, `model \"gpt-4o\" is not allowed`) {
		t.Fatalf("model outside the routes: %d %s", code, body)
	}
	if code, body := h.chat(t, "pulse-agent", "llama3", false); code != http.StatusOK || !strings.Contains(body, `"total_tokens":30`) {
		t.Fatalf("allowed model: %d %s", code, body)
	}
	for _, k := range h.seen {
		if k != "Bearer sk-gw-pulse" {
			t.Fatalf("the gateway saw key %q; only the identity's virtual key may reach it", k)
		}
	}
	// 30 of 50 spent; a streamed answer of 20 passes through whole and is counted.
	code, body := h.chat(t, "pulse-agent", "llama3", true)
	if code != http.StatusOK || strings.Count(body, "data: ") != 5 || !strings.Contains(body, "[DONE]") {
		t.Fatalf("stream: %d %q", code, body)
	}
	if got := h.front.Usage(); len(got) != 1 || got[0].Tokens != 50 || got[0].Requests != 2 {
		t.Fatalf("usage %+v, want 50 tokens over 2 requests", got)
	}
	if code, body := h.chat(t, "pulse-agent", "llama3", false); code != http.StatusTooManyRequests || !strings.Contains(body, "budget") {
		t.Fatalf("spent budget: %d %s", code, body)
	}
	// A new period restores the allowance.
	h.now = h.now.Add(time.Hour)
	if code, _ := h.chat(t, "pulse-agent", "llama3", false); code != http.StatusOK {
		t.Fatalf("next period: %d", code)
	}
}

func TestStreamIsForwardedAsItArrives(t *testing.T) {
	// The first chunk must reach the caller before the upstream finishes.
	release := make(chan struct{})
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"first\"}}]}\n\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "data: {\"usage\":{\"total_tokens\":7}}\n\ndata: [DONE]\n\n")
	}))
	defer gw.Close()
	u, _ := url.Parse(gw.URL)
	f := New(u, nil)
	f.SetGrants(map[string]Grant{"a": {Key: "k", AllowedModels: []string{"*"}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), "a")))
	}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, "first") {
		t.Fatalf("first chunk: %q %v", line, err)
	}
	close(release)
	_, _ = io.ReadAll(resp.Body)
	time.Sleep(50 * time.Millisecond)
	if u := f.Usage(); len(u) != 1 || u[0].Tokens != 7 {
		t.Fatalf("usage %+v", u)
	}
}

func TestStreamWithoutUsageIsStillCharged(t *testing.T) {
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"0123456789012345678901234567890123456789\"}}]}\n\ndata: [DONE]\n\n")
	}))
	defer gw.Close()
	u, _ := url.Parse(gw.URL)
	f := New(u, nil)
	f.SetGrants(map[string]Grant{"a": {Key: "k", AllowedModels: []string{"*"}, Budget: 10, Period: time.Hour}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), "a")))
	}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	time.Sleep(50 * time.Millisecond)
	if u := f.Usage(); len(u) != 1 || u[0].Tokens < 10 {
		t.Fatalf("a stream without usage was charged %+v; streaming must not bypass the budget", u)
	}
	resp, err = http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d after the budget was spent by streaming", resp.StatusCode)
	}
}

// TestReservationCapsWhatIsLeft: a request is capped at what is left of the
// budget, counting what requests in flight hold; with nothing left it is
// refused before it reaches the gateway.
func TestReservationCapsWhatIsLeft(t *testing.T) {
	var asked []int64
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			MaxTokens           int64 `json:"max_tokens"`
			MaxCompletionTokens int64 `json:"max_completion_tokens"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.MaxCompletionTokens != 0 && req.MaxCompletionTokens != req.MaxTokens {
			t.Errorf("max_completion_tokens %d left above the cap %d", req.MaxCompletionTokens, req.MaxTokens)
		}
		asked = append(asked, req.MaxTokens)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"choices":[{"message":{"content":"x"}}],"usage":{"total_tokens":%d}}`, req.MaxTokens)
	}))
	defer gw.Close()
	u, _ := url.Parse(gw.URL)
	f := New(u, nil)
	f.SetGrants(map[string]Grant{"a": {Key: "k", AllowedModels: []string{"*"}, Budget: 100, Period: time.Hour}})
	post := func(body string) int {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body)).WithContext(WithIdentity(t.Context(), "a"))
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, req)
		return rec.Code
	}
	// A held reservation (a request in flight) narrows what is left.
	res, limit, err := f.reserve("a", f.grants["a"], 10, 30, 1)
	if err != nil || limit != 30 {
		t.Fatalf("reserve: %d %v", limit, err)
	}
	// 100 - 40 held - the prompt (3 framing + 3 + "user" 1 + "hi" 1 = 8): 52 left.
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	if code := post(`{"model":"m","max_completion_tokens":500,` + msgs + `}`); code != 200 || asked[0] != 52 {
		t.Fatalf("capped request: %d, asked the gateway for %v", code, asked)
	}
	// 52 spent, 40 held, 8 left for a prompt of 8: nothing for an answer.
	if code := post(`{"model":"m",` + msgs + `}`); code != http.StatusTooManyRequests || len(asked) != 1 {
		t.Fatalf("request with nothing left: %d, gateway asked %v", code, asked)
	}
	res.settle(0)
	if code := post(`{"model":"m",` + msgs + `}`); code != 200 || asked[1] != 40 {
		t.Fatalf("after the held request settled: %d, asked %v", code, asked)
	}
}

// TestWhatTheGatewayReadsIsWhatWasReserved: the gateway (Go, reading the
// same JSON) sees exactly the limit and the messages the front reserved
// for: look-alike keys that Go's JSON folds onto a governed field are
// dropped, max_completion_tokens alone still becomes max_tokens (which
// llm-gateway forwards), and n answers reserve n times the limit.
func TestWhatTheGatewayReadsIsWhatWasReserved(t *testing.T) {
	type seen struct {
		MaxTokens int64 `json:"max_tokens"`
		N         int64 `json:"n"`
		Messages  []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	var got []seen
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v seen
		_ = json.NewDecoder(r.Body).Decode(&v) // as llm-gateway decodes it
		got = append(got, v)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"choices":[{"message":{"content":"x"}}],"usage":{"total_tokens":1}}`)
	}))
	defer gw.Close()
	u, _ := url.Parse(gw.URL)
	f := New(u, nil)
	f.SetGrants(map[string]Grant{"a": {Key: "k", AllowedModels: []string{"*"}, Budget: 1000, Period: time.Hour}})
	post := func(body string) int {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body)).WithContext(WithIdentity(t.Context(), "a"))
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, req)
		return rec.Code
	}
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct {
		name, body string
		want       int64
	}{
		// 1000 - the prompt's 8: the look-alike's million is ignored.
		{"look-alike max_tokens", `{"model":"m","max_token\u017f":1000000,` + msgs + `}`, 992},
		{"max_completion_tokens alone", `{"model":"m","max_completion_tokens":50,` + msgs + `}`, 50},
		{"both, the smaller wins", `{"model":"m","max_completion_tokens":50,"max_tokens":100000,` + msgs + `}`, 50},
	} {
		got = nil
		if code := post(tc.body); code != 200 || len(got) != 1 || got[0].MaxTokens != tc.want {
			t.Fatalf("%s: %d, the gateway read %+v, want max_tokens %d", tc.name, code, got, tc.want)
		}
	}
	// A look-alike messages key cannot smuggle a prompt past the estimate.
	got = nil
	if code := post(`{"model":"m","me\u017f\u017fages":[{"role":"user","content":"` + strings.Repeat("huge ", 2000) + `"}],` + msgs + `}`); code != 200 || len(got[0].Messages) != 1 || got[0].Messages[0].Content != "hi" {
		t.Fatalf("look-alike messages: %d, the gateway read %+v", code, got)
	}
	// n answers: each limited so that all of them fit what is left.
	got = nil
	spent := f.Usage()[0].Tokens
	if code := post(`{"model":"m","n":4,` + msgs + `}`); code != 200 || got[0].N != 4 || got[0].MaxTokens != (1000-spent-8)/4 {
		t.Fatalf("n=4: %d, the gateway read %+v", code, got)
	}
	// An image is part of the prompt estimate.
	img := chatRequest{Model: "m", Messages: []chatMessage{{Role: "user", Content: json.RawMessage(`[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:x"}}]`)}}}
	text := chatRequest{Model: "m", Messages: []chatMessage{{Role: "user", Content: json.RawMessage(`"what is this"`)}}}
	if d := img.promptTokens(counterFor("m")) - text.promptTokens(counterFor("m")); d != tokensPerImage {
		t.Fatalf("an image adds %d tokens to the estimate, want %d", d, tokensPerImage)
	}
}

// TestEncodingFollowsTheModel: gpt-4o-era and o-series models are counted
// with o200k_base, every other model with cl100k_base.
func TestEncodingFollowsTheModel(t *testing.T) {
	const text = "Zero trust: 零信任网络, サービスは見えない, сервисы скрыты."
	o200, err := codec.NewO200kBase().Count(text)
	if err != nil {
		t.Fatal(err)
	}
	cl100, err := codec.NewCl100kBase().Count(text)
	if err != nil {
		t.Fatal(err)
	}
	if o200 == cl100 {
		t.Fatalf("both encodings count %d tokens; pick a text that tells them apart", o200)
	}
	for model, want := range map[string]int{"gpt-4o-mini": o200, "o3-mini": o200, "gpt-5": o200, "gpt-4-turbo": cl100, "llama3": cl100, "claude-3-haiku": cl100} {
		if got := counterFor(model)(text); got != int64(want) {
			t.Errorf("%s: %d tokens, want %d", model, got, want)
		}
	}
}

// TestRequestFacts: every request, refused or answered, streamed or not,
// leaves one fact with the verified caller, the model asked and answered,
// the status and what it cost; the caller's key and the content never do.
func TestRequestFacts(t *testing.T) {
	h := newHarness(t)
	facts := make(chan gateways.RequestFact, 10)
	h.front.OnRequest = func(f gateways.RequestFact) { facts <- f }
	next := func() gateways.RequestFact {
		select {
		case f := <-facts:
			return f
		case <-time.After(5 * time.Second):
			t.Fatal("no fact")
			return gateways.RequestFact{}
		}
	}
	h.chat(t, "pulse-agent", "gpt-4o", false)
	if f := next(); f.Identity != "pulse-agent" || f.Status != http.StatusForbidden || f.Model != "gpt-4o" || f.TotalTokens != 0 {
		t.Fatalf("refused: %+v", f)
	}
	h.chat(t, "pulse-agent", "llama3", false)
	if f := next(); f.Status != http.StatusOK || f.ResolvedModel != "llama3" || f.TotalTokens != 30 || f.PromptTokens == 0 || f.BytesIn == 0 || f.BytesOut == 0 || f.Path != "/v1/chat/completions" {
		t.Fatalf("answered: %+v", f)
	}
	h.chat(t, "pulse-agent", "llama3", true)
	if f := next(); f.Status != http.StatusOK || !f.Stream || f.TotalTokens != 20 {
		t.Fatalf("streamed: %+v", f)
	}
	h.chat(t, "", "llama3", false)
	if f := next(); f.Identity != "" || f.Status != http.StatusUnauthorized {
		t.Fatalf("no verified identity: %+v", f)
	}
	b, _ := json.Marshal(gateways.RequestFact{})
	for _, banned := range []string{"messages", "content", "authorization", "key"} {
		if strings.Contains(strings.ToLower(string(b)), banned) {
			t.Fatalf("a request fact has a field %q", banned)
		}
	}
}
