package controller

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/openziti/channel/v4"
	"github.com/openziti/channel/v4/websockets"
	"github.com/openziti/identity"
)

// The management channel's content types for event streaming
// (ziti's mgmt_pb: StreamEventsRequestType, StreamEventsEventType). They
// are part of the controller's wire protocol, so they do not change.
const (
	streamEventsRequest = 10040
	streamEventsEvent   = 10041
)

// Event namespaces the controller streams (ziti v1.6).
const (
	EventsCircuit      = "circuit"
	EventsSession      = "session"
	EventsEntityChange = "entityChange"
)

// ErrEventStream is a failure to open or keep the controller's event
// stream.
var ErrEventStream = errors.New("controller event stream")

type eventReceiver struct {
	out chan<- json.RawMessage
	ctx context.Context
}

func (r eventReceiver) HandleReceive(m *channel.Message, _ channel.Channel) {
	body := json.RawMessage(append([]byte(nil), m.Body...))
	select {
	case r.out <- body:
	case <-r.ctx.Done():
	}
}

// StreamEvents subscribes to the controller's events of the given
// namespaces over the fabric management websocket (the channel `ziti
// fabric stream events` uses) and hands each event's JSON to out, in the
// order the controller sent them. ready, if set, is called once the
// subscription is in place. It returns when ctx ends (nil) or the stream
// breaks (ErrEventStream); the controller keeps no backlog, so a caller
// that reconnects has missed what happened in between.
func (c *Client) StreamEvents(ctx context.Context, namespaces []string, out chan<- json.RawMessage, ready func()) error {
	tok, err := c.session(ctx, "")
	if err != nil {
		return err
	}
	u := *c.res.managementURL
	u.Scheme = "wss"
	u.Path = "/fabric/v1/ws-api"
	dialer := &websocket.Dialer{Proxy: http.ProxyFromEnvironment, TLSClientConfig: c.tls.Clone(), HandshakeTimeout: 15 * time.Second}
	// dial opens the websocket; status is the HTTP answer to a refused
	// upgrade (0 when none came).
	dial := func(tok string) (*websocket.Conn, int, error) {
		hdr := http.Header{}
		hdr.Set(sessionHeader, tok)
		conn, resp, err := dialer.DialContext(ctx, u.String(), hdr)
		status := 0
		if resp != nil {
			status = resp.StatusCode
			if resp.Body != nil {
				_ = resp.Body.Close()
			}
		}
		return conn, status, err
	}
	conn, status, err := dial(tok)
	if err != nil && status == http.StatusUnauthorized {
		// The API session expired (nothing else renews it while only the
		// stream is open): open a new one, as the REST transport does.
		if tok, err = c.session(ctx, tok); err != nil {
			return err
		}
		conn, status, err = dial(tok)
	}
	if err != nil {
		if status != 0 {
			return fmt.Errorf("%w: opening %s: HTTP %d: %w", ErrEventStream, u.Host+u.Path, status, err)
		}
		return fmt.Errorf("%w: opening %s: %w", ErrEventStream, u.Host+u.Path, err)
	}
	closed := make(chan struct{})
	bind := channel.BindHandlerF(func(b channel.Binding) error {
		b.AddReceiveHandler(streamEventsEvent, eventReceiver{out: out, ctx: ctx})
		b.AddCloseHandler(channel.CloseHandlerF(func(channel.Channel) { close(closed) }))
		return nil
	})
	ch, err := channel.NewChannel("mgmt", websockets.NewUnderlayFactory(&identity.TokenId{Token: "mgmt"}, conn, nil), bind, nil)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("%w: %w", ErrEventStream, err)
	}
	defer ch.Close()
	type sub struct {
		Type string `json:"type"`
	}
	req := struct {
		Format        string `json:"format"`
		Subscriptions []sub  `json:"subscriptions"`
	}{Format: "json"}
	for _, ns := range namespaces {
		req.Subscriptions = append(req.Subscriptions, sub{Type: ns})
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	reply, err := channel.NewMessage(streamEventsRequest, body).WithTimeout(15 * time.Second).SendForReply(ch)
	if err != nil {
		return fmt.Errorf("%w: subscribing: %w", ErrEventStream, err)
	}
	if ok, _ := reply.GetBoolHeader(channel.ResultSuccessHeader); !ok {
		return fmt.Errorf("%w: the controller refused the subscription: %s", ErrEventStream, string(reply.Body))
	}
	c.log.InfoContext(ctx, "streaming controller events", "namespaces", namespaces)
	if ready != nil {
		ready()
	}
	select {
	case <-ctx.Done():
		return nil
	case <-closed:
		return fmt.Errorf("%w: the controller closed it", ErrEventStream)
	}
}

// RunID names one run: agentmesh/<via>/<time>-<random>, with via "apply"
// (the provider) or "reconcile" (agentmesh reconcile).
func RunID(via string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("agentmesh/%s/%s-%x", via, time.Now().UTC().Format("20060102T150405Z"), b)
}
