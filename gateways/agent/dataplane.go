// Package agent is the gateway agent that runs beside a gateway with the
// gateway's own Ziti identity. This file is its LLM data plane: it binds
// one dark service per audience identity and serves the front on each, so
// the identity behind a request is the one the network verified when it
// let the caller dial that service.
package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/openziti/sdk-golang/ziti"

	"github.com/agentmesh/agentmesh/gateways"
)

// ServeDataPlane serves front on every service (service name -> identity
// name) until ctx ends. A service the controller does not yet let the
// gateway bind is retried until bindTimeout.
func ServeDataPlane(ctx context.Context, zctx ziti.Context, services map[string]string, front http.Handler, bindTimeout time.Duration) error {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		servers []*http.Server
	)
	for svc, identity := range services {
		ln, err := Listen(ctx, zctx, svc, bindTimeout)
		if err != nil {
			for _, s := range servers {
				_ = s.Close()
			}
			return fmt.Errorf("binding data-plane service %s: %w", svc, err)
		}
		srv := &http.Server{
			Handler:           front,
			ReadHeaderTimeout: 30 * time.Second,
			// The identity comes from the service the connection
			// arrived on, never from anything the caller sent.
			ConnContext: func(c context.Context, _ net.Conn) context.Context {
				return gateways.WithCaller(c, identity)
			},
		}
		mu.Lock()
		servers = append(servers, srv)
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = srv.Serve(ln)
		}()
	}
	<-ctx.Done()
	mu.Lock()
	for _, s := range servers {
		_ = s.Close()
	}
	mu.Unlock()
	wg.Wait()
	return nil
}

// Listen binds a dark service, retrying until timeout: right after its
// policies are made, the controller may not yet let the identity bind.
func Listen(ctx context.Context, zctx ziti.Context, svc string, timeout time.Duration) (net.Listener, error) {
	deadline := time.Now().Add(timeout)
	for {
		_ = zctx.RefreshServices()
		ln, err := zctx.Listen(svc)
		if err == nil {
			return ln, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
