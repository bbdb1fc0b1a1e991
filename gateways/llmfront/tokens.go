package llmfront

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer/codec"
)

// Tokens are counted with OpenAI's cl100k_base encoding, which runs
// offline. For models of other families (Anthropic, local models) it is an
// estimate: their own tokenizers differ by some percent, which is the
// accuracy a budget can promise for them. When an answer carries the
// upstream's own `usage`, that figure is charged instead.
var cl100k = sync.OnceValue(codec.NewCl100kBase)

func countText(s string) int64 {
	if s == "" {
		return 0
	}
	n, err := cl100k().Count(s)
	if err != nil {
		// A tokenizer failure must not make a request free: fall back to
		// the usual four bytes per token.
		return int64(len(s)+3) / 4
	}
	return int64(n)
}

// chatRequest is what the front reads of a chat completion request.
type chatRequest struct {
	Model               string        `json:"model"`
	Stream              bool          `json:"stream"`
	MaxTokens           *int64        `json:"max_tokens"`
	MaxCompletionTokens *int64        `json:"max_completion_tokens"`
	Messages            []chatMessage `json:"messages"`
	Tools               []any         `json:"tools"`
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
	var parts []struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(m.Content, &parts)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

// Per-message framing of OpenAI's chat format: every message costs three
// tokens besides its text, a name one more, and the answer is primed with
// three.
const (
	tokensPerMessage = 3
	tokensPerName    = 1
	tokensPerReply   = 3
)

// promptTokens estimates what the upstream will count as the prompt.
func (r *chatRequest) promptTokens() int64 {
	n := int64(tokensPerReply)
	for _, m := range r.Messages {
		n += tokensPerMessage + countText(m.Role) + countText(m.text())
		if m.Name != "" {
			n += tokensPerName + countText(m.Name)
		}
		for _, c := range m.ToolCalls {
			n += countText(c.Function.Name) + countText(c.Function.Arguments)
		}
	}
	if len(r.Tools) > 0 {
		b, _ := json.Marshal(r.Tools)
		n += countText(string(b))
	}
	return n
}

// completionCap is the most completion tokens the request may produce:
// what the caller asked for, or 0 when it did not say.
func (r *chatRequest) completionCap() int64 {
	switch {
	case r.MaxCompletionTokens != nil && *r.MaxCompletionTokens > 0:
		return *r.MaxCompletionTokens
	case r.MaxTokens != nil && *r.MaxTokens > 0:
		return *r.MaxTokens
	}
	return 0
}

// answer gathers what the model produced: the text and tool calls of a
// whole message, or of each streamed delta.
type answer struct {
	text      strings.Builder
	reported  int64 // the upstream's own usage, when it sent one
	completed bool  // a finish_reason arrived
}

type choice struct {
	FinishReason string `json:"finish_reason"`
	Message      *struct {
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
	if u := v.Usage; u != nil {
		if t := max(u.TotalTokens, u.PromptTokens+u.CompletionTokens); t > 0 {
			a.reported = t
		}
	}
	for _, c := range v.Choices {
		a.completed = a.completed || c.FinishReason != ""
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
	return prompt + countText(a.text.String())
}
