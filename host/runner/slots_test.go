package runner

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
)

// tenants stand for tenants asking syncSlots for a slot; synctest.Wait
// makes "has queued" and "has been admitted" exact, with no sleeps.
type tenants struct {
	t     *testing.T
	s     *syncSlots
	mu    sync.Mutex
	order []string          // admission order
	held  map[string]func() // release by name
}

func newTenants(t *testing.T, s *syncSlots) *tenants {
	return &tenants{t: t, s: s, held: map[string]func(){}}
}

// ask starts name's request and returns once it is admitted or queued.
func (ts *tenants) ask(name string) {
	go func() {
		release, err := ts.s.acquire(context.Background())
		if err != nil {
			ts.t.Error(err)
			return
		}
		ts.mu.Lock()
		defer ts.mu.Unlock()
		ts.order = append(ts.order, name)
		ts.held[name] = release
	}()
	synctest.Wait()
}

func (ts *tenants) release(name string) {
	ts.mu.Lock()
	release := ts.held[name]
	delete(ts.held, name)
	ts.mu.Unlock()
	release()
	synctest.Wait()
}

// want checks the admission order so far.
func (ts *tenants) want(order ...string) {
	ts.t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if !slices.Equal(ts.order, order) {
		ts.t.Fatalf("admitted %v, want %v", ts.order, order)
	}
}

// wantSet checks who has been admitted, for admissions that happen
// together (their goroutines then record them in any order).
func (ts *tenants) wantSet(names ...string) {
	ts.t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if !slices.Equal(slices.Sorted(slices.Values(ts.order)), slices.Sorted(slices.Values(names))) {
		ts.t.Fatalf("admitted %v, want %v in some order", ts.order, names)
	}
}

// TestSyncSlotsAdmitInArrivalOrder: with every slot taken, the tenant that
// has waited longest gets the next free one, whoever asks later.
func TestSyncSlotsAdmitInArrivalOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSyncSlots(2)
		defer s.close()
		ts := newTenants(t, s)
		ts.ask("h1")
		ts.ask("h2")
		ts.want("h1", "h2")
		for _, n := range []string{"a", "b", "c", "d"} {
			ts.ask(n)
		}
		ts.want("h1", "h2")
		ts.release("h2")
		ts.want("h1", "h2", "a")
		ts.ask("late") // queued behind b, c, d
		ts.release("a")
		ts.want("h1", "h2", "a", "b")
		ts.release("h1")
		ts.release("b")
		ts.want("h1", "h2", "a", "b", "c", "d")
		ts.release("c")
		ts.want("h1", "h2", "a", "b", "c", "d", "late")
		ts.release("d")
		ts.release("late")
	})
}

// TestSyncSlotsLimitChanges: lowering the limit lets running syncs finish
// and waiting tenants keep their turn, never running more than the old
// limit, and settles at the new one; raising it admits waiters at once.
func TestSyncSlotsLimitChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSyncSlots(3)
		defer s.close()
		ts := newTenants(t, s)
		ts.ask("h1")
		ts.ask("h2")
		ts.ask("h3")
		ts.ask("w1") // waiting before the change
		s.setLimit(1)
		synctest.Wait()
		ts.ask("w2") // waiting after it
		ts.want("h1", "h2", "h3")

		ts.release("h1")
		ts.want("h1", "h2", "h3", "w1") // w1 asked under the old limit of 3
		ts.release("h2")
		ts.release("h3")
		ts.want("h1", "h2", "h3", "w1") // 1 running: the new limit holds
		ts.release("w1")
		ts.want("h1", "h2", "h3", "w1", "w2")

		ts.ask("w3")
		ts.ask("w4")
		ts.want("h1", "h2", "h3", "w1", "w2")
		s.setLimit(3)
		synctest.Wait()
		ts.wantSet("h1", "h2", "h3", "w1", "w2", "w3", "w4")
		ts.ask("w5")
		ts.wantSet("h1", "h2", "h3", "w1", "w2", "w3", "w4")

		// Lowering while the reserve is still queued, then raising again
		// before it got it, leaves the limit raised.
		s.setLimit(1)
		synctest.Wait()
		s.setLimit(4)
		synctest.Wait()
		ts.wantSet("h1", "h2", "h3", "w1", "w2", "w3", "w4", "w5")
		for _, n := range []string{"w2", "w3", "w4", "w5"} {
			ts.release(n)
		}
	})
}

// A waiter whose context ends leaves the queue without a slot.
func TestSyncSlotsCancelledWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSyncSlots(1)
		defer s.close()
		release, err := s.acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := s.acquire(ctx)
			errc <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-errc; err == nil {
			t.Fatal("a cancelled waiter got a slot")
		}
		release()
		again, err := s.acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		again()
		again() // a second release is a no-op, not a panic
	})
}
