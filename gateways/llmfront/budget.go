package llmfront

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// A reservation holds, from admission until the answer is metered, the
// most tokens a request can cost: its prompt estimate plus the max_tokens
// it runs with. Admission counts tokens spent and tokens held by requests
// in flight, so concurrent requests cannot together overshoot the budget;
// a request whose answer would not fit is capped at what is left (its
// max_tokens lowered), and one for which nothing is left gets 429.
type reservation struct {
	f    *Front
	id   string
	held int64
	once sync.Once
	// charged is what settle charged, for the request's audit facts. A
	// stream cut short ends before the meter settles, so it is read
	// without waiting: such a fact is marked aborted and may say 0.
	charged atomic.Int64
}

// reserve admits a request of prompt tokens asking for n answers of at
// most asked completion tokens each (0: it did not say). It returns the
// reservation and the completion limit each answer must run with.
func (f *Front) reserve(id string, g Grant, prompt, asked, n int64) (*reservation, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.usageLocked(id, g)
	if g.Budget <= 0 {
		return &reservation{f: f, id: id}, asked, nil
	}
	left := (g.Budget - u.Tokens - f.held[id] - prompt) / n
	if left <= 0 {
		return nil, 0, fmt.Errorf("identity %q has no budget left for this request: %d of %d tokens spent this period, %d held by requests in flight, and the prompt needs about %d (for %d answers)",
			id, u.Tokens, g.Budget, f.held[id], prompt, n)
	}
	limit := asked
	if limit == 0 {
		limit = DefaultMaxTokens
	}
	limit = min(limit, left)
	held := prompt + n*limit
	f.held[id] += held
	return &reservation{f: f, id: id, held: held}, limit, nil
}

// settle releases the reservation and charges what the request cost. Only
// the first call counts.
func (r *reservation) settle(tokens int64) {
	r.once.Do(func() {
		f := r.f
		f.mu.Lock()
		f.held[r.id] -= r.held
		u := f.usageLocked(r.id, f.grants[r.id])
		u.Tokens += tokens
		u.Requests++
		r.charged.Store(tokens)
		f.mu.Unlock()
		if f.OnUsage != nil {
			f.OnUsage()
		}
	})
}

// usageLocked returns the identity's usage, starting a new period when the
// current one has ended.
func (f *Front) usageLocked(id string, g Grant) *Usage {
	u, ok := f.usage[id]
	now := f.now()
	if !ok {
		u = &Usage{Identity: id, PeriodStart: now}
		f.usage[id] = u
	}
	if g.Period > 0 && now.Sub(u.PeriodStart) >= g.Period {
		u.Tokens, u.Requests, u.PeriodStart = 0, 0, now
	}
	return u
}
