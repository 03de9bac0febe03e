package runner

import (
	"context"
	"sync"

	"golang.org/x/sync/semaphore"
)

// maxSyncSlots is the largest limit syncSlots takes (runner.toml allows up
// to 256); it is the semaphore's fixed capacity.
const maxSyncSlots = 1 << 12

// defaultSyncSlots is the limit when a Spec sets none.
const defaultSyncSlots = 2

// syncSlots admits syncs at most limit at a time, in arrival order: the
// tenant that has waited longest gets the next free slot (semaphore.Weighted
// is FIFO), so no tenant is starved by others that happen to ask at the
// right moment.
//
// A slot is held only while one sync runs, and every sync ends at its
// sync_timeout at the latest (synclimits.Limits.Timeout, enforced by the
// tenant), so a tenant with k tenants ahead of it gets a slot within
// ceil((k+1)/limit) × the longest sync_timeout of those ahead.
//
// The limit can change while syncs hold slots (a reload). The semaphore's
// capacity is fixed at maxSyncSlots and the limit is what the runner does
// not hold itself (the reserve). Lowering the limit takes more reserve
// through the same FIFO queue, so syncs already running finish, tenants
// already waiting keep their turn, and the number running never exceeds
// the larger of the old and the new limit and settles at the new one.
// Raising it returns reserve at once, which admits waiting tenants in order.
type syncSlots struct {
	sem *semaphore.Weighted

	mu       sync.Mutex
	reserved int64        // units the runner holds
	pending  *reservation // reserve being taken behind waiting tenants
}

// reservation is reserve queued behind tenants that were waiting when the
// limit was lowered.
type reservation struct {
	n      int64
	cancel context.CancelFunc
	got    chan bool
}

func newSyncSlots(limit int) *syncSlots {
	s := &syncSlots{sem: semaphore.NewWeighted(maxSyncSlots)}
	s.setLimit(limit)
	return s
}

// acquire waits for a slot or for ctx to end; release gives the slot back
// (calling it again does nothing).
func (s *syncSlots) acquire(ctx context.Context) (release func(), err error) {
	if err := s.sem.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { s.sem.Release(1) }) }, nil
}

// setLimit changes the limit (≤ 0 means defaultSyncSlots).
func (s *syncSlots) setLimit(n int) {
	if n <= 0 {
		n = defaultSyncSlots
	}
	n = min(n, maxSyncSlots)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	want := int64(maxSyncSlots - n)
	switch {
	case s.reserved > want:
		s.sem.Release(s.reserved - want)
		s.reserved = want
	case s.reserved < want:
		k := want - s.reserved
		if s.sem.TryAcquire(k) {
			s.reserved = want
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &reservation{n: k, cancel: cancel, got: make(chan bool, 1)}
		go func() { r.got <- s.sem.Acquire(ctx, k) == nil }()
		s.pending = r
	}
}

// settle ends a pending reservation, keeping the reserve if it got it.
// Callers hold s.mu.
func (s *syncSlots) settle() {
	r := s.pending
	if r == nil {
		return
	}
	s.pending = nil
	r.cancel()
	if <-r.got {
		s.reserved += r.n
	}
}

// close ends a pending reservation, so that no goroutine outlives the
// runner.
func (s *syncSlots) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
}
