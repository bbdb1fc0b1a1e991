package llmfront

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer/codec"
)

// Tokens are counted with OpenAI's own encodings, which run offline:
// o200k_base for the gpt-4o, gpt-4.1, gpt-5 and o-series models, and
// cl100k_base for every other model. For models of other families
// (Anthropic, local models) it is an estimate: their own tokenizers
// differ by some percent, which is the accuracy a budget can promise for
// them. When an answer carries the upstream's own `usage`, that figure is
// charged instead.
var (
	cl100k = sync.OnceValue(codec.NewCl100kBase)
	o200k  = sync.OnceValue(codec.NewO200kBase)
)

// counter is the token count of one model's encoding.
type counter func(string) int64

func counterFor(model string) counter {
	enc := cl100k
	for _, p := range []string{"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o"} {
		if strings.HasPrefix(model, p) {
			enc = o200k
		}
	}
	return func(s string) int64 {
		if s == "" {
			return 0
		}
		n, err := enc().Count(s)
		if err != nil {
			// A tokenizer failure must not make a request free: fall back
			// to the usual four bytes per token.
			return int64(len(s)+3) / 4
		}
		return int64(n)
	}
}

// chatRequest is what the front reads of a chat completion request.
type chatRequest struct {
	Model               string        `json:"model"`
	Stream              bool          `json:"stream"`
	MaxTokens           *int64        `json:"max_tokens"`
	MaxCompletionTokens *int64        `json:"max_completion_tokens"`
	N                   *int64        `json:"n"`
	Messages            []chatMessage `json:"messages"`
	Tools               []any         `json:"tools"`
}

// governedKeys are the request fields the front reads. A key that only
// folds to one of them (Go's JSON matches names case-insensitively, with
// Unicode folding: "ſ" matches "s") could make the front and the gateway
// read different values, so canonical drops it before anything is read.
var governedKeys = []string{"model", "stream", "max_tokens", "max_completion_tokens", "n", "messages", "tools"}

// canonical re-encodes a request body with every key spelled exactly
// once: what the front estimates is then exactly what the gateway reads.
func canonical(body []byte) ([]byte, map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, nil, err
	}
	if m == nil {
		return nil, nil, errors.New("the body is not a JSON object")
	}
	for k := range m {
		for _, g := range governedKeys {
			// strings.EqualFold folds as encoding/json does ("ſ" is "s").
			if k != g && strings.EqualFold(k, g) {
				delete(m, k)
			}
		}
	}
	out, err := json.Marshal(m)
	return out, m, err
}

type chatMessage struct {
	Role      string          `json:"role"`
	Name      string          `json:"name"`
	Content   json.RawMessage `json:"content"`
	ToolCalls []toolCall      `json:"tool_calls"`
}

type toolCall struct {
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// text is a message's content: a string, or the text of its parts.
func (m chatMessage) text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var b strings.Builder
	for _, p := range m.parts() {
		b.WriteString(p.Text)
	}
	return b.String()
}

type contentPart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	ImageURL *struct {
		Detail string `json:"detail"`
	} `json:"image_url"`
}

func (m chatMessage) parts() []contentPart {
	var parts []contentPart
	_ = json.Unmarshal(m.Content, &parts)
	return parts
}

// Images are estimated as OpenAI prices them: 85 tokens at low detail,
// and 765 otherwise (a 1024x1024 image at high detail; larger ones cost
// more, so their streamed charge is an underestimate).
const (
	tokensPerLowImage = 85
	tokensPerImage    = 765
)

func (m chatMessage) imageTokens() int64 {
	var n int64
	for _, p := range m.parts() {
		switch {
		case p.ImageURL == nil:
		case p.ImageURL.Detail == "low":
			n += tokensPerLowImage
		default:
			n += tokensPerImage
		}
	}
	return n
}

// Per-message framing of OpenAI's chat format: every message costs three
// tokens besides its text, a name one more, and the answer is primed with
// three.
const (
	tokensPerMessage = 3
	tokensPerName    = 1
	tokensPerReply   = 3
)

// promptTokens estimates what the upstream will count as the prompt, with
// the model's encoding.
func (r *chatRequest) promptTokens(count counter) int64 {
	n := int64(tokensPerReply)
	for _, m := range r.Messages {
		n += tokensPerMessage + count(m.Role) + count(m.text()) + m.imageTokens()
		if m.Name != "" {
			n += tokensPerName + count(m.Name)
		}
		for _, c := range m.ToolCalls {
			n += count(c.Function.Name) + count(c.Function.Arguments)
		}
	}
	if len(r.Tools) > 0 {
		b, _ := json.Marshal(r.Tools)
		n += count(string(b))
	}
	return n
}

// completionCap is the most completion tokens one choice may produce:
// the smaller of max_tokens and max_completion_tokens where the caller
// set them, or 0 when it set neither.
func (r *chatRequest) completionCap() int64 {
	var c int64
	for _, v := range []*int64{r.MaxTokens, r.MaxCompletionTokens} {
		if v != nil && *v > 0 && (c == 0 || *v < c) {
			c = *v
		}
	}
	return c
}

// choices is how many answers the request asks for (n, default 1): each
// can run to the completion limit.
func (r *chatRequest) choices() int64 {
	if r.N != nil && *r.N > 1 {
		return *r.N
	}
	return 1
}

// answer gathers what the model produced: the text and tool calls of a
// whole message, or of each streamed delta.
type answer struct {
	count    counter
	text     strings.Builder
	reported int64  // the upstream's own usage, when it sent one
	model    string // the model that answered, as the answer names it
}

type choice struct {
	Message *struct {
		Content   string     `json:"content"`
		ToolCalls []toolCall `json:"tool_calls"`
	} `json:"message"`
	Delta *struct {
		Content   string     `json:"content"`
		ToolCalls []toolCall `json:"tool_calls"`
	} `json:"delta"`
}

// add reads one answer body or one streamed chunk.
func (a *answer) add(b []byte) {
	var v struct {
		Model   string   `json:"model"`
		Choices []choice `json:"choices"`
		Usage   *struct {
			TotalTokens      int64 `json:"total_tokens"`
			PromptTokens     int64 `json:"prompt_tokens"`
			CompletionTokens int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if json.Unmarshal(b, &v) != nil {
		return
	}
	if a.model == "" {
		a.model = v.Model
	}
	if u := v.Usage; u != nil {
		if t := max(u.TotalTokens, u.PromptTokens+u.CompletionTokens); t > 0 {
			a.reported = t
		}
	}
	for _, c := range v.Choices {
		var content string
		var calls []toolCall
		switch {
		case c.Message != nil:
			content, calls = c.Message.Content, c.Message.ToolCalls
		case c.Delta != nil:
			content, calls = c.Delta.Content, c.Delta.ToolCalls
		}
		a.text.WriteString(content)
		for _, tc := range calls {
			a.text.WriteString(tc.Function.Name)
			a.text.WriteString(tc.Function.Arguments)
		}
	}
}

// tokens is the charge for the answer: the upstream's usage if it reported
// one, else the prompt estimate plus the answer's own tokens.
func (a *answer) tokens(prompt int64) int64 {
	if a.reported > 0 {
		return a.reported
	}
	return prompt + a.count(a.text.String())
}
