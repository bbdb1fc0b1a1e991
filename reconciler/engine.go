package reconciler

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/openziti/edge-api/rest_management_api_client/identity"
	"github.com/openziti/edge-api/rest_model"

	"github.com/agentmesh/agentmesh/reconciler/controller"
)

// Engine applies intent to one controller. One Engine serves a whole run
// (a Terraform plan or apply, or one reconcile pass) and is safe for
// concurrent use: Terraform calls it from up to 10 goroutines.
type Engine struct {
	c          *controller.Client
	log        *slog.Logger
	identities *snapshot[*rest_model.IdentityDetail]
	configs    *snapshot[*rest_model.ConfigDetail]
	services   *snapshot[*rest_model.ServiceDetail]
	types      configTypes
	conv       converger
	locks      keyedMutex
	leaving    departures
	drift      driftCache
	claims     claims
	tables     tableMemo
	routers    routerCache
	idReads    identityReads
	// beforeApply, when set, runs between observing and writing.
	beforeApply func()
	// gatewayTimeout bounds waiting for a gateway agent.
	gatewayTimeout time.Duration
}

// New returns an engine over a connected client.
func New(c *controller.Client, log *slog.Logger) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{c: c, log: log, types: configTypes{ids: map[string]string{}}}
	e.identities = newSnapshot(e.listManagedIdentities, func(d *rest_model.IdentityDetail) string { return deref(d.ID) })
	e.configs = newSnapshot(e.listManagedConfigs, func(d *rest_model.ConfigDetail) string { return deref(d.ID) })
	e.services = newSnapshot(e.listManagedServices, func(d *rest_model.ServiceDetail) string { return deref(d.ID) })
	e.conv.cond = sync.NewCond(&e.conv.mu)
	return e
}

// Client is the engine's controller connection.
func (e *Engine) Client() *controller.Client { return e.c }

func (e *Engine) listManagedIdentities(ctx context.Context) ([]*rest_model.IdentityDetail, error) {
	filter := managedFilter
	return listAll(ctx, func(limit, offset *int64) ([]*rest_model.IdentityDetail, *rest_model.Meta, error) {
		p := identity.NewListIdentitiesParamsWithContext(ctx).WithFilter(&filter).WithLimit(limit).WithOffset(offset)
		r, err := e.c.API.Identity.ListIdentities(p, nil)
		if err != nil {
			return nil, nil, controller.Explain(err, "listing agentmesh identities")
		}
		return r.Payload.Data, r.Payload.Meta, nil
	})
}

// snapshot is a lazily loaded, run-scoped index of one kind of object. The
// first read loads every managed object with one paged list; later reads
// are answered from memory, and the engine's own writes keep it current.
type snapshot[T any] struct {
	load  func(context.Context) ([]T, error)
	key   func(T) string
	mu    sync.Mutex
	ready bool
	items map[string]T
}

func newSnapshot[T any](load func(context.Context) ([]T, error), key func(T) string) *snapshot[T] {
	return &snapshot[T]{load: load, key: key, items: map[string]T{}}
}

// get returns the object and whether the snapshot holds it. Concurrent
// first calls share one load.
func (s *snapshot[T]) get(ctx context.Context, id string) (T, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready {
		all, err := s.load(ctx)
		if err != nil {
			var zero T
			return zero, false, err
		}
		// The list is at least as fresh as anything put before it.
		for _, it := range all {
			s.items[s.key(it)] = it
		}
		s.ready = true
	}
	it, ok := s.items[id]
	return it, ok, nil
}

// all returns every object the snapshot holds, loading it first if needed.
func (s *snapshot[T]) all(ctx context.Context) ([]T, error) {
	if _, _, err := s.get(ctx, ""); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]T, 0, len(s.items))
	for _, it := range s.items {
		out = append(out, it)
	}
	return out, nil
}

// peek returns the object when the snapshot is loaded and holds it; it
// never loads it.
func (s *snapshot[T]) peek(id string) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[id]
	return it, ok && s.ready
}

// find returns an object the snapshot holds that matches, when it is
// loaded; it never loads it.
func (s *snapshot[T]) find(match func(T) bool) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		for _, it := range s.items {
			if match(it) {
				return it, true
			}
		}
	}
	var zero T
	return zero, false
}

// reset forgets everything; the next read loads afresh.
func (s *snapshot[T]) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready = false
	s.items = map[string]T{}
}

func (s *snapshot[T]) put(it T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[s.key(it)] = it
}

func (s *snapshot[T]) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items, id)
}

// Reset drops everything observed so the next read observes the controller
// afresh. A long-running reconciler calls it at the start of each pass.
func (e *Engine) Reset() {
	e.resetSnapshots()
	e.routers.forget()
}

// resetSnapshots drops the snapshots of identities, configs and services,
// which every convergence pass observes afresh.
func (e *Engine) resetSnapshots() {
	e.identities.reset()
	e.configs.reset()
	e.services.reset()
}

// keyedMutex serialises read-modify-write sequences on one object (an
// identity's role attributes are written by both the identity resource and
// membership derivation).
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*sync.Mutex{}
	}
	l, ok := k.locks[key]
	if !ok {
		l = &sync.Mutex{}
		k.locks[key] = l
	}
	k.mu.Unlock()
	l.Lock()
	return l.Unlock
}
