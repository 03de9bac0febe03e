// Package membudget admits syncs into a process memory budget: a sync
// starts only once its tenant's estimated peak, measured from the
// tenant's last sync, fits beside those running and the idle process. It
// is shared by serve's scheduled syncs (host/runner) and service mode's
// sync tasks (host/service's Config.Admit), so that one budget bounds a
// process whatever starts its syncs.
package membudget

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// DefaultSyncPeakMiB is what the first sync of a tenant reserves, before
// one of its syncs has been measured: a 1k-user Segment sync peaks ~50 MiB
// above an idle serve, a 10k-user one 236–316 MiB, more the more room the
// budget leaves (README "Sizing the memory budget"). A tenant's first sync
// never reserves more than the whole budget: it then runs alone, and is
// measured.
const DefaultSyncPeakMiB = 256

// HeadroomMiB is the part of a process's resident memory that the Go
// runtime does not count, and so is left out of the soft memory
// limit set from the budget (SetGoMemoryLimit): the binary's own pages
// (file-backed, ~49 MiB of the 60 MiB binary resident) and each compiled
// guest module's machine code, mapped outside the Go heap (~18 MiB for
// the Segment guest), measured in /proc/<pid>/smaps of a serve syncing
// 1k users. Guest linear memory is mapped outside the Go heap too
// (host/sandbox's mappedMemory, ~15 MiB for a 1k-user Segment sync's two
// instances), so the limit does not see it; a tenant's measured peak does.
const HeadroomMiB = 80

// MarginMiB is by how much a process may exceed its budget: an
// estimate is a tenant's last sync, and the same sync peaks up to one of
// Pebble's 128 MiB sort arenas higher or lower from run to run (it costs
// RSS only when it lands on pages used before; ARCHITECTURE.md, "Where the
// memory of a sync goes"). A container's memory limit should be at least
// the budget plus this margin.
const MarginMiB = 128

// sampleEvery is how often the process's RSS is read while syncs run;
// VmHWM gives the exact peak only when a sync raises the process's
// high-water mark.
const sampleEvery = 50 * time.Millisecond

// ErrDoesNotFit is wrapped by the error of a sync that cannot fit in the
// process memory budget even with no other sync running.
var ErrDoesNotFit = errors.New("does not fit in the process memory budget")

// budgetError says which tenant does not fit, by how much, and what to
// raise.
type budgetError struct {
	tenant, setting    string
	need, idle, budget int64
}

func (e *budgetError) Error() string {
	sync := "the sync"
	if e.tenant != "" {
		sync = "tenant " + e.tenant + "'s sync"
	}
	if e.idle >= e.budget {
		return fmt.Sprintf("%s %v: the process holds %d MiB between syncs, the whole budget of %d MiB; raise %s to at least %d",
			sync, ErrDoesNotFit, MiB(e.idle), MiB(e.budget), e.setting, MiB(e.idle+e.need))
	}
	return fmt.Sprintf("%s %v: its last sync peaked %d MiB above the %d MiB the process holds between syncs, "+
		"and the budget is %d MiB; raise %s to at least %d",
		sync, ErrDoesNotFit, MiB(e.need), MiB(e.idle), MiB(e.budget), e.setting, MiB(e.idle+e.need))
}

func (e *budgetError) Unwrap() error { return ErrDoesNotFit }

// MiB converts bytes to MiB, rounding up, so that "at least" is enough.
func MiB(b int64) int64 { return (b + 1<<20 - 1) >> 20 }

// meter reads the process's memory.
type meter interface {
	// rss and hwm are the resident set now and its high-water mark.
	rss() (int64, error)
	hwm() (int64, error)
	// settle returns what the Go heap has freed to the OS, so that the
	// idle RSS read next is not the last sync's garbage.
	settle()
}

// Budget admits syncs while the estimated peaks of those running fit a
// process memory budget: in arrival order, the head of the queue waiting
// until its reservation fits (a smaller sync behind it does not overtake
// it, so none starves).
//
// A sync reserves its tenant's estimate: the peak of the process's RSS
// above its idle RSS during the tenant's last successful sync that ran
// alone. With syncs overlapping, the RSS cannot be told apart between
// them, so a sync that ran beside another leaves its tenant's estimate as
// it was. Idle RSS is read each time a sync starts with none running,
// after the heap has returned its free pages. A tenant not yet measured
// reserves DefaultSyncPeakMiB, or the whole budget if that is less.
//
// A sync whose estimate does not fit even with nothing running fails with
// an error wrapping ErrDoesNotFit. That is decided only once nothing runs
// (so with the idle RSS read then), and the queue is looked at again
// whenever a sync ends, a waiter gives up or the budget changes, so no
// sync waits for memory that cannot come.
//
// The zero budget admits every sync at once. A Budget is safe for
// concurrent use.
type Budget struct {
	meter      meter
	setting    string
	onEstimate func(tenant string, peak int64)

	mu        sync.Mutex
	budget    int64 // bytes; 0: no budget, every sync admitted at once
	idle      int64 // RSS with no sync running, when last read
	reserved  int64 // reservations of the running syncs
	running   map[*Ticket]bool
	queue     []*waiter
	estimates map[string]int64 // measured peaks, by tenant

	// While syncs run: the highest RSS sampled, VmHWM when they started,
	// and how to stop the sampler.
	peak, hwm0   int64
	stopSampling chan struct{}
}

// Config configures a Budget.
type Config struct {
	// Setting is what an operator raises when a sync cannot fit, as its
	// error names it: e.g. "--process-memory-mib (BATON_PROCESS_MEMORY_MIB)".
	Setting string
	// OnEstimate, if set, gets a tenant's new estimate, in bytes, as a
	// sync that measured it ends.
	OnEstimate func(tenant string, peak int64)
}

type waiter struct {
	tenant string
	done   chan struct{} // closed once ticket or err is set
	ticket *Ticket
	err    error
}

// Ticket is a running sync's reservation.
type Ticket struct {
	b      *Budget
	tenant string
	n      int64
	// alone: no other sync ran at any time since this one started.
	alone bool
	once  sync.Once
}

// New returns a Budget of this process, with no budget set (SetLimit):
// it measures the process's memory in /proc/self/status, and where that
// cannot be read every sync reserves DefaultSyncPeakMiB.
func New(cfg Config) *Budget { return newBudget(cfg, procMeter{}) }

func newBudget(cfg Config, m meter) *Budget {
	return &Budget{meter: m, setting: cfg.Setting, onEstimate: cfg.OnEstimate, running: map[*Ticket]bool{}, estimates: map[string]int64{}}
}

// SetLimit changes the budget (bytes, 0: none). Syncs already running
// keep their reservations; waiting ones are looked at anew.
func (b *Budget) SetLimit(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.budget = max(n, 0)
	b.admit()
}

// Forget drops a removed tenant's estimate.
func (b *Budget) Forget(tenant string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.estimates, tenant)
}

// Estimate returns tenant's measured peak, in bytes, if it has one.
func (b *Budget) Estimate(tenant string) (peak int64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	peak, ok = b.estimates[tenant]
	return peak, ok
}

// State is what a Budget holds at one moment, in bytes.
type State struct {
	// Limit is the budget (0: none); Idle the process's RSS with no sync
	// running, when last read; Reserved the running syncs' reservations.
	Limit, Idle, Reserved int64
	// Estimates are the tenants' measured peaks.
	Estimates map[string]int64
}

// State returns what b holds now.
func (b *Budget) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return State{Limit: b.budget, Idle: b.idle, Reserved: b.reserved, Estimates: maps.Clone(b.estimates)}
}

// Acquire waits until tenant's sync fits, ctx ends, or it cannot fit even
// alone (an error wrapping ErrDoesNotFit). waiting, if set, is called
// once if it has to wait. The sync must Release the ticket when it ends.
func (b *Budget) Acquire(ctx context.Context, tenant string, waiting func()) (*Ticket, error) {
	w := &waiter{tenant: tenant, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, w)
	b.admit()
	b.mu.Unlock()
	select {
	case <-w.done:
		return w.ticket, w.err
	default:
	}
	if waiting != nil {
		waiting()
	}
	select {
	case <-w.done:
		return w.ticket, w.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.done:
		// Admitted (or refused) as ctx ended: give it back.
		if w.ticket != nil {
			b.releaseLocked(w.ticket, false)
		}
	default:
		for i, q := range b.queue {
			if q == w {
				b.queue = append(b.queue[:i], b.queue[i+1:]...)
				break
			}
		}
		b.admit() // the head may have changed
	}
	return nil, ctx.Err()
}

// Reserved is the memory the ticket holds of the budget, in bytes.
func (t *Ticket) Reserved() int64 { return t.n }

// Release gives the reservation back; ok says the sync succeeded, the
// only kind whose peak becomes its tenant's estimate. Calling it again
// does nothing.
func (t *Ticket) Release(ok bool) {
	t.once.Do(func() {
		b := t.b
		b.mu.Lock()
		est := b.releaseLocked(t, ok)
		b.mu.Unlock()
		if est > 0 && b.onEstimate != nil {
			b.onEstimate(t.tenant, est)
		}
	})
}

// admit admits waiters from the head of the queue while they fit. Callers
// hold b.mu.
func (b *Budget) admit() {
	idleRead := false
	for len(b.queue) > 0 {
		w := b.queue[0]
		var need int64
		if b.budget > 0 {
			if len(b.running) == 0 && !idleRead {
				b.readIdle()
				idleRead = true
			}
			avail := b.budget - b.idle
			est, measured := b.estimates[w.tenant]
			if !measured {
				est = min(DefaultSyncPeakMiB<<20, avail)
			}
			if est > avail || avail <= 0 {
				if len(b.running) > 0 {
					return // decided once nothing runs, with the idle RSS then
				}
				if !measured {
					est = DefaultSyncPeakMiB << 20 // what to make room for
				}
				w.err = &budgetError{tenant: w.tenant, setting: b.setting, need: est, idle: b.idle, budget: b.budget}
				b.queue = b.queue[1:]
				close(w.done)
				continue
			}
			if b.reserved+est > avail {
				return
			}
			need = est
		}
		b.queue = b.queue[1:]
		t := &Ticket{b: b, tenant: w.tenant, n: need, alone: len(b.running) == 0}
		for o := range b.running {
			o.alone = false
		}
		if len(b.running) == 0 && b.budget > 0 {
			b.startSampling()
		}
		b.running[t] = true
		b.reserved += need
		w.ticket = t
		close(w.done)
	}
}

// releaseLocked ends t's reservation and returns its tenant's new
// estimate, if it has one. Callers hold b.mu.
func (b *Budget) releaseLocked(t *Ticket, ok bool) (est int64) {
	if !b.running[t] {
		return 0
	}
	delete(b.running, t)
	b.reserved -= t.n
	if b.stopSampling != nil {
		if ok && t.alone {
			est = b.measure(t.tenant)
		}
		if len(b.running) == 0 {
			close(b.stopSampling)
			b.stopSampling = nil
		}
	}
	b.admit()
	return est
}

// readIdle reads the process's RSS between syncs; if it cannot, the
// budget is all the syncs'.
func (b *Budget) readIdle() {
	b.meter.settle()
	rss, err := b.meter.rss()
	if err != nil {
		rss = 0
	}
	b.idle = rss
}

// startSampling begins a period of syncs running: it records VmHWM and
// samples RSS until the last of them ends. Callers hold b.mu.
func (b *Budget) startSampling() {
	b.peak, _ = b.meter.rss()
	b.hwm0, _ = b.meter.hwm()
	stop := make(chan struct{})
	b.stopSampling = stop
	go func() {
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			rss, err := b.meter.rss()
			b.mu.Lock()
			if err == nil && b.stopSampling == stop {
				b.peak = max(b.peak, rss)
			}
			b.mu.Unlock()
		}
	}()
}

// measure sets tenant's estimate from the sync that has just ended, alone:
// its peak is the process's VmHWM if the sync raised it (exact), else the
// highest RSS sampled. It returns the estimate, 0 if nothing could be
// measured. Callers hold b.mu.
func (b *Budget) measure(tenant string) int64 {
	peak := b.peak
	if rss, err := b.meter.rss(); err == nil {
		peak = max(peak, rss)
	}
	if hwm, err := b.meter.hwm(); err == nil && hwm > b.hwm0 {
		peak = max(peak, hwm)
	}
	est := peak - b.idle
	if peak == 0 || est <= 0 {
		return 0 // nothing measured (no /proc)
	}
	b.estimates[tenant] = est
	return est
}

// procMeter reads /proc/self/status (Linux). Elsewhere every read fails,
// and every sync reserves DefaultSyncPeakMiB.
type procMeter struct{}

func (procMeter) rss() (int64, error) { return procStatus("VmRSS:") }
func (procMeter) hwm() (int64, error) { return procStatus("VmHWM:") }
func (procMeter) settle()             { debug.FreeOSMemory() }

func procStatus(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		v, ok := bytes.CutPrefix(s.Bytes(), []byte(field))
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/self/status %s %q: %w", field, v, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("/proc/self/status has no %s", field)
}

// SetGoMemoryLimit sets the Go runtime's soft memory limit for a process
// memory budget of budgetMiB: the budget less HeadroomMiB, what the
// runtime does not see. The collector then works harder as the heap nears
// it instead of letting it double, so that admitted syncs' garbage does
// not take the memory of the next. An operator's GOMEMLIMIT wins. It
// returns the limit in effect; budgetMiB 0 removes the limit (a reload
// that drops the budget).
func SetGoMemoryLimit(budgetMiB int) int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1)
	}
	if budgetMiB <= 0 {
		debug.SetMemoryLimit(math.MaxInt64)
		return math.MaxInt64
	}
	limit := int64(max(budgetMiB-HeadroomMiB, budgetMiB/2)) << 20
	debug.SetMemoryLimit(limit)
	return limit
}
