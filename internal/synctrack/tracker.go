// Package synctrack keeps the state of the syncs running through one
// connector client, keyed by baton-sdk's sync ID, and enforces the
// synclimits.Limits of each: the connector charges each guest list call and
// item to it, the tenant each API request.
package synctrack

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-runner/baton-runner/host/synclimits"
)

// Tracking bounds. A tracker keeps per-sync state for at most MaxTracked
// syncs (the least recently used is forgotten first) and forgets a sync
// idle for longer than its timeout; a sync tracks the depth of at most
// MaxNestedParents resources below the top level that declare child types
// and the count of at most MaxStalledListings listings in a run of pages
// without progress (about 40 bytes each), so a guest cannot grow host
// memory through them.
const (
	MaxTracked         = 256
	MaxNestedParents   = 1 << 18
	MaxStalledListings = 1 << 16
	// ProbeEvery is the least time between two disk probes of one sync:
	// walking a store directory on every call would cost more than the
	// calls.
	ProbeEvery = time.Second
	// idleWithoutTimeout is how long a sync whose timeout is disabled may
	// stay idle before it is forgotten.
	idleWithoutTimeout = synclimits.DefaultTimeout
)

// Tracker holds the state of the syncs that run through one connector
// client, keyed by sync ID: baton-sdk sends the ID with every list call,
// so one-shot syncs and service-mode tasks are bounded alike. It is safe
// for concurrent use.
type Tracker struct {
	limits synclimits.Limits
	disk   *synclimits.Disk
	now    func() time.Time

	mu    sync.Mutex
	syncs map[string]*Sync
}

// NewTracker returns a tracker enforcing l (zero fields take their
// defaults). disk, if not nil, measures the disk the syncs' files take.
func NewTracker(l synclimits.Limits, disk *synclimits.Disk) *Tracker {
	return &Tracker{limits: l.WithDefaults(), disk: disk, now: time.Now, syncs: map[string]*Sync{}}
}

// Limits returns the limits the tracker enforces, defaults applied.
func (t *Tracker) Limits() synclimits.Limits { return t.limits }

// SetClock replaces time.Now, for tests.
func (t *Tracker) SetClock(now func() time.Time) { t.now = now }

// Sync returns the state of the sync with this ID, starting it (and its
// clock) on first use. An empty ID (validate, grant, revoke: calls outside
// any sync) gets a scope of its own that no later call shares.
func (t *Tracker) Sync(id string) *Sync {
	now := t.now()
	if id == "" {
		return t.newSync("", now)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.syncs[id]; ok {
		s.lastUsed.Store(now.UnixNano())
		return s
	}
	t.prune(now)
	s := t.newSync(id, now)
	t.syncs[id] = s
	return s
}

func (t *Tracker) newSync(id string, now time.Time) *Sync {
	s := &Sync{id: id, limits: t.limits, disk: t.disk, now: t.now, start: now, seed: maphash.MakeSeed()}
	s.lastUsed.Store(now.UnixNano())
	if t.limits.Timeout > 0 {
		s.deadline = now.Add(t.limits.Timeout)
	}
	return s
}

// prune forgets idle syncs, then the least recently used ones while the
// map is full. Called with t.mu held, only when a new sync starts.
func (t *Tracker) prune(now time.Time) {
	idle := t.limits.Timeout
	if idle <= 0 {
		idle = idleWithoutTimeout
	}
	for id, s := range t.syncs {
		if now.Sub(time.Unix(0, s.lastUsed.Load())) > idle {
			delete(t.syncs, id)
		}
	}
	for len(t.syncs) >= MaxTracked {
		var oldest string
		var at int64
		for id, s := range t.syncs {
			if u := s.lastUsed.Load(); oldest == "" || u < at {
				oldest, at = id, u
			}
		}
		delete(t.syncs, oldest)
	}
}

// Tracked returns how many syncs the tracker holds state for.
func (t *Tracker) Tracked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.syncs)
}

// Sync is the state of one sync (or of one call outside any sync): what it
// has used of each limit. Once a limit is exceeded the sync has failed and
// every later charge or check returns the same error, so calls in flight
// on other workers end as soon as they ask.
type Sync struct {
	id       string
	limits   synclimits.Limits
	disk     *synclimits.Disk
	now      func() time.Time
	start    time.Time
	deadline time.Time // zero when the timeout is disabled
	lastUsed atomic.Int64

	pages, items, requests atomic.Int64
	failed                 atomic.Pointer[synclimits.Error]

	seed maphash.Seed

	depthMu sync.Mutex
	// depths holds the depth (≥ 1) of nested resources that declare child
	// types, keyed by a seeded hash of their ID: a missing entry is a
	// top-level resource (depth 0).
	depths map[uint64]int

	stalledMu sync.Mutex
	// stalled holds, keyed by a seeded hash of the listing, how many
	// pages in a row a listing has returned without progress; a listing
	// that made progress or ended has no entry.
	stalled map[uint64]int64

	probeMu   sync.Mutex
	lastProbe time.Time
}

// ID returns the sync ID ("" for a call outside any sync).
func (s *Sync) ID() string { return s.id }

// Deadline returns when the sync's wall time runs out; ok is false when
// the timeout is disabled.
func (s *Sync) Deadline() (deadline time.Time, ok bool) {
	return s.deadline, !s.deadline.IsZero()
}

// Err returns the limit the sync exceeded, or nil.
func (s *Sync) Err() error {
	if e := s.failed.Load(); e != nil {
		return e
	}
	return nil
}

// fail records e as the sync's failure; the first limit exceeded wins.
func (s *Sync) fail(e *synclimits.Error) error {
	s.failed.CompareAndSwap(nil, e)
	return s.failed.Load()
}

// TimedOut reports whether the sync's wall time has run out, failing the
// sync if so.
func (s *Sync) TimedOut() bool {
	if s.deadline.IsZero() || s.now().Before(s.deadline) {
		return false
	}
	s.fail(&synclimits.Error{Key: "sync_timeout", Detail: fmt.Sprintf("wall time of %s", s.limits.Timeout)})
	return true
}

// Check is called before each guest call of the sync: it fails once the
// sync has exceeded a limit, its wall time has run out, or (probed at
// most every ProbeEvery) its files take more disk than allowed.
func (s *Sync) Check() error {
	if err := s.Err(); err != nil {
		return err
	}
	if s.TimedOut() {
		return s.Err()
	}
	return s.probeDisk()
}

func (s *Sync) probeDisk() error {
	if s.disk == nil || s.limits.MaxC1ZBytes <= 0 {
		return nil
	}
	now := s.now()
	// One caller probes; concurrent callers go on rather than wait for it.
	if !s.probeMu.TryLock() {
		return nil
	}
	defer s.probeMu.Unlock()
	if !s.lastProbe.IsZero() && now.Sub(s.lastProbe) < ProbeEvery {
		return nil
	}
	s.lastProbe = now
	if used := s.disk.Usage(); used > s.limits.MaxC1ZBytes {
		return s.fail(&synclimits.Error{Key: "max_c1z_mib", Detail: fmt.Sprintf("%s of c1z store and working files; %s in use",
			size(s.limits.MaxC1ZBytes), size(used))})
	}
	return nil
}

// size renders n bytes in max_c1z_mib's unit, exactly when that is whole.
func size(n int64) string {
	if n%(1<<20) == 0 || n >= 100<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ChargePage counts one guest list call; it is called before the call, so
// a guest that pages forever is stopped before its next page.
func (s *Sync) ChargePage() error {
	if err := s.Err(); err != nil {
		return err
	}
	if n := s.pages.Add(1); s.limits.MaxPages > 0 && n > s.limits.MaxPages {
		return s.fail(&synclimits.Error{Key: "max_pages", Detail: fmt.Sprintf("%d guest list calls", s.limits.MaxPages)})
	}
	return nil
}

// ChargeItems counts the resources, entitlements or grants of one page.
func (s *Sync) ChargeItems(n int) error {
	if err := s.Err(); err != nil {
		return err
	}
	if total := s.items.Add(int64(n)); s.limits.MaxItems > 0 && total > s.limits.MaxItems {
		return s.fail(&synclimits.Error{Key: "max_items", Detail: fmt.Sprintf("%d resources, entitlements and grants", s.limits.MaxItems)})
	}
	return nil
}

// ChargeRequest counts one API request the guest makes.
func (s *Sync) ChargeRequest() error {
	if err := s.Err(); err != nil {
		return err
	}
	if n := s.requests.Add(1); s.limits.RequestBudget > 0 && n > s.limits.RequestBudget {
		return s.fail(&synclimits.Error{Key: "request_budget", Detail: fmt.Sprintf("%d API requests", s.limits.RequestBudget)})
	}
	return nil
}

// Usage reports what the sync has used so far.
func (s *Sync) Usage() (pages, items, requests int64) {
	return s.pages.Load(), s.items.Load(), s.requests.Load()
}

func (s *Sync) key(parts ...string) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	for _, p := range parts {
		h.WriteString(p)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// NotePage counts a page of one listing, named by listing (the export and
// what it lists below), that the guest returned for token with next as
// its next-page token and items items. A page that lists nothing, or that
// hands back token (the next call would ask for the same page), is no
// progress; more than MaxEmptyPages of them in a row fail the sync, so a
// guest paging nothing forever is stopped long before max_pages.
func (s *Sync) NotePage(items int, token, next string, listing ...string) error {
	if err := s.Err(); err != nil {
		return err
	}
	if s.limits.MaxEmptyPages <= 0 {
		return nil
	}
	k := s.key(listing...)
	s.stalledMu.Lock()
	defer s.stalledMu.Unlock()
	if next == "" || (items > 0 && next != token) {
		delete(s.stalled, k)
		return nil
	}
	if s.stalled == nil {
		s.stalled = map[uint64]int64{}
	}
	n, ok := s.stalled[k]
	if !ok && len(s.stalled) >= MaxStalledListings {
		return s.fail(&synclimits.Error{Detail: fmt.Sprintf("the host's bound of %d listings paging without progress at once", MaxStalledListings)})
	}
	s.stalled[k] = n + 1
	if n+1 > s.limits.MaxEmptyPages {
		return s.fail(&synclimits.Error{Key: "max_empty_pages", Detail: fmt.Sprintf(
			"%d pages in a row of one listing that listed nothing or handed back their page token", s.limits.MaxEmptyPages)})
	}
	return nil
}

// ChildDepth returns the depth of the resources listed below parent (its
// depth + 1), failing the sync when that is deeper than MaxDepth.
func (s *Sync) ChildDepth(parentType, parentID string) (int, error) {
	if err := s.Err(); err != nil {
		return 0, err
	}
	s.depthMu.Lock()
	d := s.depths[s.key(parentType, parentID)] + 1
	s.depthMu.Unlock()
	if s.limits.MaxDepth > 0 && d > s.limits.MaxDepth {
		return 0, s.fail(&synclimits.Error{Key: "max_depth", Detail: fmt.Sprintf("child resources nested %d deep", s.limits.MaxDepth)})
	}
	return d, nil
}

// NoteParent records the depth of a listed resource that declares child
// types, so listing its children can be charged one level deeper.
// Top-level resources (depth 0) need no entry.
func (s *Sync) NoteParent(typ, id string, depth int) error {
	if depth <= 0 {
		return nil
	}
	s.depthMu.Lock()
	defer s.depthMu.Unlock()
	if s.depths == nil {
		s.depths = map[uint64]int{}
	}
	k := s.key(typ, id)
	if _, ok := s.depths[k]; !ok && len(s.depths) >= MaxNestedParents {
		return s.fail(&synclimits.Error{Detail: fmt.Sprintf("the host's bound of %d nested resources that declare child types", MaxNestedParents)})
	}
	s.depths[k] = depth
	return nil
}

type syncKey struct{}

// WithSync returns ctx carrying s: the connector passes it with each guest
// call, so the host functions the call reaches (the request budget) charge
// the right sync.
func WithSync(ctx context.Context, s *Sync) context.Context {
	return context.WithValue(ctx, syncKey{}, s)
}

// FromContext returns the sync ctx carries, or nil.
func FromContext(ctx context.Context) *Sync {
	s, _ := ctx.Value(syncKey{}).(*Sync)
	return s
}
