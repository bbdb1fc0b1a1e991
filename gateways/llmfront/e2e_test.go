package llmfront_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/acctest"
	"github.com/agentmesh/agentmesh/acctest/model"
	"github.com/agentmesh/agentmesh/gateways"
	"github.com/agentmesh/agentmesh/gateways/llmfront"
)

const identity = "pulse-agent"

// frontOnRealGateway runs the real llm-gateway on a rendered table in front
// of the local model, and the front in front of it; the "network" stamps
// every request with identity.
func frontOnRealGateway(t *testing.T, up *model.Server, budget int64, semantic bool) (front *llmfront.Front, frontURL string, gw *acctest.LLMGateway) {
	t.Helper()
	key := "sk-gw-" + strings.Repeat("b", 64)
	table := &gateways.Table{Gateway: "llm-e2e", Kind: gateways.KindLLM, Generation: 1,
		LLM: &gateways.LLMSettings{Local: &gateways.LocalProvider{BaseURL: up.URL}},
		LLMRoutes: []gateways.LLMRoute{
			{Name: "chat", Model: "llama3", Description: "general conversation and greetings", Examples: []string{"hello there how are you", "tell me a joke"}},
			{Name: "code", Model: "qwen-coder", Description: "programming and source code", Examples: []string{"write a go function", "fix this python bug in my code"}},
		},
		Keys: []gateways.VirtualKey{{Identity: identity, Key: key, AllowedModels: []string{"llama3", "qwen-coder"}}},
	}
	if semantic {
		table.LLM.Semantic = &gateways.SemanticRouting{Provider: "local", Model: "embed", Threshold: 0.3}
	}
	gw, err := acctest.StartLLMGateway(context.Background(), t.TempDir(), table)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Stop)
	u, _ := url.Parse("http://" + gw.Addr)
	front = llmfront.New(u, nil)
	front.SetGrants(map[string]llmfront.Grant{identity: {Key: key, AllowedModels: []string{"llama3", "qwen-coder"}, Budget: budget, Period: time.Hour}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		front.ServeHTTP(w, r.WithContext(llmfront.WithIdentity(r.Context(), identity)))
	}))
	t.Cleanup(srv.Close)
	return front, srv.URL, gw
}

func do(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func chatBody(model, prompt string, stream bool, extra string) string {
	p, _ := json.Marshal(prompt)
	return fmt.Sprintf(`{"model":%q,"stream":%t,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":%s}]%s}`, model, stream, p, extra)
}

func spent(f *llmfront.Front) int64 {
	for _, u := range f.Usage() {
		if u.Identity == identity {
			return u.Tokens
		}
	}
	return 0
}

// settled waits for a streamed answer's charge to be booked.
func settled(t *testing.T, f *llmfront.Front, before int64) int64 {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if s := spent(f); s != before {
			return s - before
		}
	}
	t.Fatal("the answer was never charged")
	return 0
}

// TestRealGatewayGovernedByTheFront: the real llm-gateway v0.1.4, on a
// config agentmesh rendered, behind the front: an allowed model answers,
// another is refused, the gateway itself refuses a caller without the
// virtual key, and the front forwards only what it governs.
func TestRealGatewayGovernedByTheFront(t *testing.T) {
	up := model.Start("llama3", "qwen-coder", "mistral")
	defer up.Close()
	_, frontURL, gw := frontOnRealGateway(t, up, 0, false)
	if code, body := do(t, "POST", frontURL+"/v1/chat/completions", chatBody("llama3", "hi", false, "")); code != 200 || !strings.Contains(body, "Hello from llama3") {
		t.Fatalf("allowed model: %d %s", code, body)
	}
	if code, body := do(t, "POST", frontURL+"/v1/chat/completions", chatBody("mistral", "hi", false, "")); code != 403 || !strings.Contains(body, "not allowed") {
		t.Fatalf("model outside the routes: %d %s", code, body)
	}
	// The model list is the caller's models, not the gateway's.
	code, body := do(t, "GET", frontURL+"/v1/models", "")
	if code != 200 || !strings.Contains(body, `"llama3"`) || !strings.Contains(body, `"qwen-coder"`) || strings.Contains(body, "mistral") {
		t.Fatalf("models: %d %s", code, body)
	}
	// Only what the front governs is forwarded; the gateway does serve
	// these paths, to the operator on loopback.
	for _, path := range []string{"GET /metrics", "GET /health", "POST /v1/embeddings", "GET /v1/chat/completions", "POST /v1/models", "GET /debug/pprof/"} {
		method, p, _ := strings.Cut(path, " ")
		if code, body := do(t, method, frontURL+p, `{"model":"llama3","input":"x"}`); code != 404 || !strings.Contains(body, "not served") {
			t.Errorf("%s through the front: %d %s", path, code, body)
		}
	}
	for _, p := range []string{"/metrics", "/health"} {
		if code, _ := do(t, "GET", "http://"+gw.Addr+p, ""); code != 200 {
			t.Errorf("the real gateway does not serve %s on loopback (%d): the 404 above would prove nothing", p, code)
		}
	}
	if code, _ := do(t, "POST", "http://"+gw.Addr+"/v1/chat/completions", chatBody("llama3", "hi", false, "")); code != 401 {
		t.Fatalf("a request without the virtual key reached the model: %d", code)
	}
}

// TestRealGatewaySemanticRouting: model `auto` is routed by the real
// gateway's embedding router, over the routes' descriptions and examples,
// with embeddings the local model computes.
func TestRealGatewaySemanticRouting(t *testing.T) {
	up := model.Start("llama3", "qwen-coder")
	defer up.Close()
	_, frontURL, _ := frontOnRealGateway(t, up, 0, true)
	for prompt, want := range map[string]string{
		"please write a go function that reverses a string": "qwen-coder",
		"hello there, tell me a joke":                       "llama3",
	} {
		code, body := do(t, "POST", frontURL+"/v1/chat/completions", chatBody("auto", prompt, false, ""))
		if code != 200 || !strings.Contains(body, "Hello from "+want) {
			t.Errorf("auto for %q: %d %s; want the %s route", prompt, code, body, want)
		}
	}
}

// pairs are prompts and the answers the model gives them: short, long,
// multibyte and tool calls.
var pairs = []struct {
	prompt string
	answer model.Answer
}{
	{"hi", model.Answer{Text: "Hello."}},
	{"ok?", model.Answer{Text: "Yes, all systems are nominal."}},
	{"Name a colour.", model.Answer{Text: "Teal."}},
	{"What is 2+2?", model.Answer{Text: "2 + 2 = 4"}},
	{"Summarise the Macro Pulse scenario.", model.Answer{Text: "Pulse-agent reads equity feeds from two partner desks, scores momentum, and publishes a signal every minute to the research workgroup, under an engagement contract that bounds each session."}},
	{"Explain zero trust networking in depth.", model.Answer{Text: strings.Repeat("Zero trust means that no packet is trusted because of where it comes from; every connection is authenticated by a strong identity, authorised by policy, and encrypted end to end. ", 12)}},
	{"List twenty primes.", model.Answer{Text: "2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71"}},
	{"Write a Go function that adds two ints.", model.Answer{Text: "```go\nfunc add(a, b int) int {\n\treturn a + b\n}\n```\nThat is all it takes."}},
	{"JSON please", model.Answer{Text: `{"status":"ok","items":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"}],"next":null}`}},
	{"日本語で挨拶して", model.Answer{Text: "こんにちは！今日はとても良い天気ですね。何かお手伝いできることはありますか？"}},
	{"用中文解释零信任", model.Answer{Text: "零信任是一种安全模型：不因网络位置而信任任何连接，每个请求都必须经过身份验证、授权和加密。"}},
	{"Réponds en français", model.Answer{Text: "Bien sûr ! Voici une réponse détaillée, avec des accents : élève, où, garçon, déjà, naïve, cœur."}},
	{"Emoji only", model.Answer{Text: "🚀🔒🌐🤖✨🎉👍🏽🧠📈🔥"}},
	{"Привет, как дела?", model.Answer{Text: "Привет! У меня всё хорошо, спасибо. Чем могу помочь сегодня?"}},
	{"Mixed scripts", model.Answer{Text: "Ziti 网络 is dark: サービス are invisible, сервисы скрыты, and only granted identities — ✅ — can dial."}},
	{"مرحبا", model.Answer{Text: "مرحبا بك! كيف يمكنني مساعدتك اليوم في شبكة الثقة المعدومة؟"}},
	{"What's the weather in Paris?", model.Answer{ToolCalls: []model.ToolCall{{Name: "get_weather", Arguments: `{"city":"Paris","unit":"celsius"}`}}}},
	{"Look up two tickers.", model.Answer{ToolCalls: []model.ToolCall{{Name: "quote", Arguments: `{"symbol":"ACME"}`}, {Name: "quote", Arguments: `{"symbol":"GLOBEX","exchange":"NYSE"}`}}}},
	{"Search and summarise.", model.Answer{Text: "Let me search first.", ToolCalls: []model.ToolCall{{Name: "search", Arguments: `{"query":"openziti edge router policies","limit":5}`}}}},
	{"A long code review.", model.Answer{Text: strings.Repeat("- In reconcile.go line 42, the error from List is dropped; wrap it with the resource name so the user can act on it.\n", 20)}},
	{"Numbers", model.Answer{Text: "3.14159265358979323846264338327950288419716939937510 and 2.71828182845904523536028747135266249775724709369995"}},
	{"Say nothing much", model.Answer{Text: "…"}},
}

// TestStreamedMeteringMatchesReportedUsage: through the real gateway, which
// drops `usage` from streamed chunks, the front meters each streamed
// answer from its deltas within 15% of the model's own reported usage and
// of the same answer metered unstreamed.
func TestStreamedMeteringMatchesReportedUsage(t *testing.T) {
	up := model.Start("llama3")
	defer up.Close()
	byPrompt := map[string]model.Answer{}
	for _, p := range pairs {
		byPrompt[p.prompt] = p.answer
	}
	up.Reply = func(r model.Request) model.Answer { return byPrompt[r.Last()] }
	front, frontURL, _ := frontOnRealGateway(t, up, 0, false)
	tools := `,"tools":[{"type":"function","function":{"name":"get_weather","description":"weather by city","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]`
	var worst float64
	t.Logf("%-40s %9s %9s %11s %7s", "prompt", "reported", "streamed", "unstreamed", "error")
	for i, p := range pairs {
		extra := ""
		if len(p.answer.ToolCalls) > 0 {
			extra = tools
		}
		before := spent(front)
		if code, body := do(t, "POST", frontURL+"/v1/chat/completions", chatBody("llama3", p.prompt, false, extra)); code != 200 {
			t.Fatalf("pair %d unstreamed: %d %s", i, code, body)
		}
		unstreamed := settled(t, front, before)
		reported := up.Usages()[len(up.Usages())-1]
		before = spent(front)
		code, body := do(t, "POST", frontURL+"/v1/chat/completions", chatBody("llama3", p.prompt, true, extra))
		if code != 200 || !strings.Contains(body, "[DONE]") {
			t.Fatalf("pair %d streamed: %d %s", i, code, body)
		}
		if strings.Contains(body, `"usage"`) {
			t.Fatalf("pair %d: the real gateway passed usage through a stream; this test would not test the delta metering", i)
		}
		streamed := settled(t, front, before)
		total := float64(reported.Prompt + reported.Completion)
		e1 := math.Abs(float64(streamed)-total) / total
		e2 := math.Abs(float64(streamed)-float64(unstreamed)) / float64(unstreamed)
		worst = max(worst, e1, e2)
		t.Logf("%-40.40q %9d %9d %11d %6.1f%%", p.prompt, int(total), streamed, unstreamed, 100*max(e1, e2))
		if e1 > 0.15 || e2 > 0.15 {
			t.Errorf("pair %d (%q): streamed %d, reported %d, unstreamed %d: off by more than 15%%", i, p.prompt, streamed, int(total), unstreamed)
		}
	}
	t.Logf("worst error %.1f%% over %d pairs", 100*worst, len(pairs))
}

// TestBudgetHoldsUnderConcurrency: 50 requests at once, half streamed,
// against a budget that admits a few: reservations at admission keep the
// total charged within one reservation of the budget, and the rest get
// 429.
func TestBudgetHoldsUnderConcurrency(t *testing.T) {
	up := model.Start("llama3")
	defer up.Close()
	up.Delay = 2 * time.Millisecond
	up.Reply = func(model.Request) model.Answer {
		return model.Answer{Text: strings.Repeat("Budgets must hold when many requests arrive together. ", 10)}
	}
	const budget = 600
	front, frontURL, _ := frontOnRealGateway(t, up, budget, false)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
	)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			extra := ""
			if i%3 == 0 {
				extra = `,"max_tokens":60`
			}
			code, _ := do(t, "POST", frontURL+"/v1/chat/completions", chatBody("llama3", fmt.Sprintf("request %d", i), i%2 == 0, extra))
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	var charged int64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if u := front.Usage(); len(u) == 1 && u[0].Requests == int64(codes[200]) {
			charged = u[0].Tokens
			break
		}
	}
	// One reservation is a prompt of about 20 tokens plus at most what
	// was left; the prompt estimate is the only slack.
	const oneReservation = 30
	t.Logf("50 concurrent requests: %v; charged %d of a %d-token budget", codes, charged, budget)
	if codes[200] == 0 || codes[429] == 0 || codes[200]+codes[429] != 50 {
		t.Fatalf("codes %v: want some answered and the rest refused with 429", codes)
	}
	if charged == 0 || charged > budget+oneReservation {
		t.Fatalf("charged %d against a budget of %d", charged, budget)
	}
}

// TestDisconnectMidStreamIsCharged: a caller that goes away mid-stream is
// charged what was sent, and its reservation is released.
func TestDisconnectMidStreamIsCharged(t *testing.T) {
	up := model.Start("llama3")
	defer up.Close()
	up.Delay = 5 * time.Millisecond
	up.Reply = func(model.Request) model.Answer { return model.Answer{Text: strings.Repeat("word ", 400)} }
	front, frontURL, _ := frontOnRealGateway(t, up, 100000, false)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", frontURL+"/v1/chat/completions", strings.NewReader(chatBody("llama3", "go on", true, "")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, _ := io.ReadAtLeast(resp.Body, buf, 1024)
	cancel()
	resp.Body.Close()
	got := settled(t, front, 0)
	full := int64(up.Usages()[0].Prompt + up.Usages()[0].Completion)
	t.Logf("read %d bytes, charged %d of the full answer's %d tokens", n, got, full)
	if got <= 20 || got >= full {
		t.Fatalf("charged %d for a stream cut short (the whole answer is %d tokens)", got, full)
	}
	// The reservation is gone: the next request is admitted in full.
	if code, body := do(t, "POST", frontURL+"/v1/chat/completions", chatBody("llama3", "again", false, `,"max_tokens":50`)); code != 200 {
		t.Fatalf("after a disconnect: %d %s", code, body)
	}
}
