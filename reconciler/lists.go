package reconciler

import (
	"context"
	"time"

	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// pageSize is the controller's maximum page; it clamps larger limits.
// Without a limit the controller answers 10 items, so every list the
// engine makes goes through listAll, which sets it and pages to the end
// (TestEveryListPages checks the source for calls that do not).
const pageSize = 500

// listAll pages through a list endpoint at the controller's maximum page.
// page makes one request with the limit and offset it is given.
func listAll[T any](ctx context.Context, page func(limit, offset *int64) ([]T, *rest_model.Meta, error)) ([]T, error) {
	var out []T
	limit := int64(pageSize)
	for offset := int64(0); ; offset += pageSize {
		var (
			items []T
			meta  *rest_model.Meta
		)
		err := retryList(ctx, func() (err error) {
			o := offset
			items, meta, err = page(&limit, &o)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if len(items) < pageSize || !more(meta, offset) {
			return out, nil
		}
	}
}

func more(m *rest_model.Meta, offset int64) bool {
	if m == nil || m.Pagination == nil || m.Pagination.TotalCount == nil {
		return true
	}
	return offset+pageSize < *m.Pagination.TotalCount
}

// retryList runs a list call again when it answers 404: Ziti v1.6.0 fails
// a list with NOT_FOUND when an object it matched is deleted while the page
// is assembled (measured: 36 of 200 lists during a parallel destroy).
func retryList(ctx context.Context, call func() error) error {
	err := call()
	for retry := 1; retry <= 6 && controller.IsNotFound(err); retry++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(25*retry) * time.Millisecond):
		}
		err = call()
	}
	return err
}
