package membudget

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

const mb = 1 << 20

// fakeMeter is a process whose RSS and VmHWM the test sets.
type fakeMeter struct {
	mu            sync.Mutex
	rssNow, hwmAt int64
	settled       int
}

func (m *fakeMeter) rss() (int64, error) { m.mu.Lock(); defer m.mu.Unlock(); return m.rssNow, nil }
func (m *fakeMeter) hwm() (int64, error) { m.mu.Lock(); defer m.mu.Unlock(); return m.hwmAt, nil }
func (m *fakeMeter) settle()             { m.mu.Lock(); defer m.mu.Unlock(); m.settled++ }

// set sets the RSS, raising the high-water mark with it.
func (m *fakeMeter) set(rss int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rssNow, m.hwmAt = rss, max(m.hwmAt, rss)
}

// syncs stand for tenants asking a memoryBudget; synctest.Wait makes
// "waits" and "was admitted" exact.
type syncs struct {
	t       *testing.T
	b       *Budget
	mu      sync.Mutex
	tickets map[string]*Ticket
	errs    map[string]error
	waited  map[string]bool
	cancels map[string]context.CancelFunc
}

func newSyncs(t *testing.T, b *Budget) *syncs {
	return &syncs{t: t, b: b, tickets: map[string]*Ticket{}, errs: map[string]error{}, waited: map[string]bool{}, cancels: map[string]context.CancelFunc{}}
}

// ask starts name's request and returns once it is admitted, refused or
// waiting.
func (s *syncs) ask(name string) {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancels[name] = cancel
	s.mu.Lock()
	delete(s.errs, name)
	delete(s.waited, name)
	s.mu.Unlock()
	go func() {
		t, err := s.b.Acquire(ctx, name, func() { s.mu.Lock(); s.waited[name] = true; s.mu.Unlock() })
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.errs[name] = err
			return
		}
		s.tickets[name] = t
	}()
	synctest.Wait()
}

// finish ends every sync and gives up every wait, so that no goroutine
// outlives the bubble.
func (s *syncs) finish() {
	for _, cancel := range s.cancels {
		cancel()
	}
	synctest.Wait()
	for name := range s.tickets {
		s.end(name, false)
	}
}

func (s *syncs) end(name string, ok bool) {
	s.mu.Lock()
	t := s.tickets[name]
	delete(s.tickets, name)
	s.mu.Unlock()
	t.Release(ok)
	synctest.Wait()
}

// running checks who holds a reservation now.
func (s *syncs) running(names ...string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tickets) != len(names) {
		s.t.Fatalf("running %v, want %v", keys(s.tickets), names)
	}
	for _, n := range names {
		if s.tickets[n] == nil {
			s.t.Fatalf("running %v, want %v", keys(s.tickets), names)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func newTestBudget(budgetMiB, idleMiB int64) (*Budget, *fakeMeter) {
	m := &fakeMeter{}
	m.set(idleMiB * mb)
	b := newBudget(Config{Setting: "the budget setting"}, m)
	b.SetLimit(budgetMiB * mb)
	return b, m
}

// TestMemoryBudgetAdmitsWhatFits: syncs run while their estimates fit the
// budget beside the idle process; the next waits, in arrival order (a
// small sync does not overtake a large one), until one ends.
func TestMemoryBudgetAdmitsWhatFits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBudget(1000, 100)
		b.estimates = map[string]int64{"a": 400 * mb, "b": 400 * mb, "c": 400 * mb, "d": 50 * mb}
		s := newSyncs(t, b)
		defer s.finish()
		s.ask("a")
		s.ask("b")
		s.ask("c")
		s.ask("d")
		s.running("a", "b")
		if !s.waited["c"] || !s.waited["d"] || s.waited["a"] {
			t.Fatalf("waited %v, want c and d only", s.waited)
		}
		if b.reserved != 800*mb {
			t.Errorf("reserved %d MiB, want 800", b.reserved/mb)
		}
		s.end("a", false)
		s.running("b", "c", "d")
		s.end("b", false)
		s.end("c", false)
		s.end("d", false)
		s.running()
		if b.reserved != 0 {
			t.Errorf("reserved %d after every sync ended", b.reserved)
		}
	})
}

// TestMemoryBudgetFirstSyncs: a tenant not yet measured reserves
// DefaultSyncPeakMiB, or the whole budget if less, and is then measured:
// the peak of RSS above the idle process while it ran alone.
func TestMemoryBudgetFirstSyncs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, m := newTestBudget(400, 100)
		var got []int64
		b.onEstimate = func(tenant string, peak int64) { got = append(got, peak) }
		s := newSyncs(t, b)
		defer s.finish()
		s.ask("a")
		s.ask("b")
		s.running("a") // 256 + 256 > 300
		if b.reserved != DefaultSyncPeakMiB*mb {
			t.Errorf("a reserved %d MiB, want the default %d", b.reserved/mb, DefaultSyncPeakMiB)
		}
		m.set(250 * mb)
		time.Sleep(2 * sampleEvery)
		m.set(130 * mb) // the peak passed, between samples of the high-water mark
		s.end("a", true)
		if b.estimates["a"] != 150*mb || len(got) != 1 || got[0] != 150*mb {
			t.Errorf("a's estimate %d MiB (reported %v), want 150", b.estimates["a"]/mb, got)
		}
		s.running("b")
		s.ask("a") // 256 + 150 > 300: waits
		s.running("b")

		// Below the default, a first sync reserves the whole budget.
		small, _ := newTestBudget(200, 100)
		s2 := newSyncs(t, small)
		defer s2.finish()
		s2.ask("x")
		s2.ask("y")
		s2.running("x")
		if small.reserved != 100*mb {
			t.Errorf("x reserved %d MiB, want all 100 the budget leaves", small.reserved/mb)
		}
		s2.end("x", false)
		s2.running("y")
	})
}

// TestMemoryBudgetMeasuresOnlySyncsAlone: syncs that overlapped, and
// failed syncs, leave their tenants' estimates as they were; a peak that
// only VmHWM saw (between samples) counts.
func TestMemoryBudgetMeasuresOnlySyncsAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, m := newTestBudget(2000, 100)
		b.estimates = map[string]int64{"a": 200 * mb, "b": 200 * mb}
		s := newSyncs(t, b)
		defer s.finish()
		s.ask("a")
		s.ask("b")
		m.set(900 * mb)
		s.end("a", true)
		m.set(100 * mb)
		s.end("b", true)
		if b.estimates["a"] != 200*mb || b.estimates["b"] != 200*mb {
			t.Errorf("overlapping syncs changed the estimates: %v", b.estimates)
		}
		s.ask("a")
		m.set(700 * mb)
		s.end("a", false)
		if b.estimates["a"] != 200*mb {
			t.Errorf("a failed sync changed the estimate: %d MiB", b.estimates["a"]/mb)
		}
		m.set(100 * mb)
		s.ask("b")
		m.set(950 * mb) // a new high-water mark, never sampled
		m.set(120 * mb)
		s.end("b", true)
		if b.estimates["b"] != 850*mb {
			t.Errorf("b's estimate %d MiB, want 850 from VmHWM", b.estimates["b"]/mb)
		}
	})
}

// TestMemoryBudgetRefusesWhatCannotFit: a sync whose estimate exceeds the
// budget less the idle process fails, once nothing else runs, with an
// error naming the tenant, the numbers and what to raise; those behind it
// are not held up.
func TestMemoryBudgetRefusesWhatCannotFit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBudget(400, 100)
		b.estimates = map[string]int64{"small": 100 * mb, "huge": 500 * mb, "next": 100 * mb}
		s := newSyncs(t, b)
		defer s.finish()
		s.ask("small")
		s.ask("huge")
		s.ask("next")
		s.running("small")
		if s.errs["huge"] != nil {
			t.Fatal("huge refused while another sync ran; the idle RSS is read once none does")
		}
		s.end("small", true)
		s.running("next")
		err := s.errs["huge"]
		if !errors.Is(err, ErrDoesNotFit) {
			t.Fatalf("huge: %v, want ErrDoesNotFit", err)
		}
		for _, want := range []string{"tenant huge's sync", "500 MiB above the 100 MiB", "budget is 400 MiB", "raise the budget setting to at least 600"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q lacks %q", err, want)
			}
		}
	})
}

// TestMemoryBudgetRefusesWhenIdleFillsIt: a process that holds the whole
// budget between syncs refuses even a first sync, naming no tenant when
// the caller has none (one service), and asks for room for the default
// reservation.
func TestMemoryBudgetRefusesWhenIdleFillsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBudget(100, 150)
		s := newSyncs(t, b)
		defer s.finish()
		s.ask("")
		s.running()
		err := s.errs[""]
		if !errors.Is(err, ErrDoesNotFit) {
			t.Fatalf("%v, want ErrDoesNotFit", err)
		}
		want := fmt.Sprintf("the sync does not fit in the process memory budget: the process holds 150 MiB between syncs, "+
			"the whole budget of 100 MiB; raise the budget setting to at least %d", 150+DefaultSyncPeakMiB)
		if err.Error() != want {
			t.Errorf("got  %q\nwant %q", err, want)
		}
	})
}

// TestMemoryBudgetChanges: a reload's budget applies to syncs waiting
// (raised: admitted at once; lowered below one: it fails once nothing
// runs), and a waiter that gives up lets the one behind it in.
func TestMemoryBudgetChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newTestBudget(400, 100)
		b.estimates = map[string]int64{"a": 200 * mb, "b": 200 * mb, "c": 50 * mb, "d": 200 * mb}
		s := newSyncs(t, b)
		defer s.finish()
		s.ask("a")
		s.ask("b")
		s.running("a")
		b.SetLimit(600 * mb)
		synctest.Wait()
		s.running("a", "b")

		s.ask("d")
		s.ask("c")
		s.running("a", "b") // c fits, but d is first
		s.cancels["d"]()
		synctest.Wait()
		if !errors.Is(s.errs["d"], context.Canceled) {
			t.Errorf("d: %v, want context.Canceled", s.errs["d"])
		}
		s.running("a", "b", "c")

		s.ask("d")
		b.SetLimit(250 * mb) // d's 200 no longer fits beside the idle 100
		synctest.Wait()
		s.end("a", false)
		s.end("b", false)
		if s.errs["d"] != nil {
			t.Fatalf("d refused while c ran: %v", s.errs["d"])
		}
		s.end("c", false)
		if !errors.Is(s.errs["d"], ErrDoesNotFit) {
			t.Fatalf("d: %v, want ErrDoesNotFit once nothing runs", s.errs["d"])
		}
	})
}

// TestMemoryBudgetOff: without a budget every sync is admitted at once and
// the process is not measured.
func TestMemoryBudgetOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, m := newTestBudget(0, 100)
		b.estimates = map[string]int64{"a": 1 << 40}
		s := newSyncs(t, b)
		defer s.finish()
		s.ask("a")
		s.ask("b")
		s.running("a", "b")
		m.set(900 * mb)
		s.end("a", true)
		s.end("b", true)
		if m.settled != 0 || b.estimates["b"] != 0 {
			t.Errorf("without a budget: %d settles, b's estimate %d", m.settled, b.estimates["b"])
		}
	})
}
