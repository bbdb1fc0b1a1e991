package reconciler

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// identityReads batches the read that follows each identity create (it
// carries the enrollment JWT): creates Terraform runs in parallel share
// one filtered list instead of one GET each.
type identityReads struct {
	mu      sync.Mutex
	waiting map[string][]chan readResult
	leader  bool
}

type readResult struct {
	d   *rest_model.IdentityDetail
	err error
}

// readBatchWindow is how long the first read waits for others to join.
const readBatchWindow = 10 * time.Millisecond

// readCreated reads a just-created identity, together with any other
// reads that arrive within readBatchWindow.
func (e *Engine) readCreated(ctx context.Context, id string) (*ObservedIdentity, error) {
	r := &e.idReads
	ch := make(chan readResult, 1)
	r.mu.Lock()
	if r.waiting == nil {
		r.waiting = map[string][]chan readResult{}
	}
	r.waiting[id] = append(r.waiting[id], ch)
	lead := !r.leader
	r.leader = true
	r.mu.Unlock()
	if lead {
		time.Sleep(readBatchWindow)
		r.mu.Lock()
		batch := r.waiting
		r.waiting, r.leader = nil, false
		r.mu.Unlock()
		e.readBatch(ctx, batch)
	}
	select {
	case res := <-ch:
		if res.err != nil {
			return nil, res.err
		}
		e.identities.put(res.d)
		return observeIdentity(res.d), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readBatch answers every waiting read with one list (paged), and any
// identity the list lacks with its own read.
func (e *Engine) readBatch(ctx context.Context, batch map[string][]chan readResult) {
	quoted := make([]string, 0, len(batch))
	for id := range batch {
		quoted = append(quoted, quoteFilter(id))
	}
	filter := fmt.Sprintf("id in [%s]", strings.Join(quoted, ","))
	items, err := listAll(ctx, func(limit, offset *int64) ([]*rest_model.IdentityDetail, *rest_model.Meta, error) {
		r, err := e.c.API.Identity.ListIdentities(identity.NewListIdentitiesParamsWithContext(ctx).WithFilter(&filter).WithLimit(limit).WithOffset(offset), nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "reading created identities")
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
	found := map[string]*rest_model.IdentityDetail{}
	for _, d := range items {
		found[deref(d.ID)] = d
	}
	for id, chans := range batch {
		res := readResult{d: found[id], err: err}
		if err == nil && res.d == nil {
			resp, gerr := e.c.API.Identity.DetailIdentity(identity.NewDetailIdentityParamsWithContext(ctx).WithID(id), nil)
			if gerr != nil {
				res.err = controller.Explain(gerr, "reading identity "+id)
			} else {
				res.d = resp.Payload.Data
			}
		}
		for _, ch := range chans {
			ch <- res
		}
	}
}
