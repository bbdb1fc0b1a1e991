package acctest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/openziti/sdk-golang/ziti"
)

// Chat sends one chat completion for model saying message, as z, over
// the data-plane service svc, and returns the status and body. A service
// the context does not list yet is dialed again for up to 30 s.
func Chat(z ziti.Context, svc, model, message string) (int, string, error) {
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		_ = z.RefreshServices()
		return z.Dial(svc)
	}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Post("http://llm/v1/chat/completions", "application/json",
			strings.NewReader(fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":%q}]}`, model, message)))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			return resp.StatusCode, string(b), nil
		}
		if time.Now().After(deadline) {
			return 0, "", err
		}
		time.Sleep(300 * time.Millisecond)
	}
}
