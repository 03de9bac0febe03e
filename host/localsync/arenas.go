package localsync

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"
	"github.com/grpc-ecosystem/go-grpc-middleware/logging/zap/ctxzap"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// arenaBytes is the size of the spill-sort arenas baton-sdk's Pebble store
// allocates as one Go slice each (v0.26.0, engine/pebble
// deferredIndexSpillChunkBytes): one when grant expansion writes its first
// synthesized grants, two when EndSync builds the deferred grant indexes.
const arenaBytes = 128 << 20

// cushionBytes is the free space left below the placeholder for the heap
// that expansion allocates before its arena (~10 MiB at 1k users): were
// the heap below full, it would grow above the placeholder, and the pages
// it frees there would be under the arena.
const cushionBytes = 64 << 20

// The syncer's log messages at both ends of grant expansion (v0.26.0,
// pkg/sync/syncer.go): at info level before its first step, which is also
// when the transition handler reports it (loadEntitlementGraph), and at
// debug level once the graph is expanded, before it seals the store
// (expandGrantsForEntitlements). TestArenaGuardSeesBothEnds and
// service's TestSyncTaskReleasesAtExpansion fail if a baton-sdk upgrade
// stops logging them.
const (
	expansionStartMessage = "Expanding grants..."
	expansionDoneMessage  = "expandGrantsForEntitlements: graph is expanded"
)

// expansion is what a sync does around grant expansion, where a large
// sync peaks: when it starts, the caller's OnCollected releases what only
// served the connector's calls, then, for a Pebble store, the arena guard
// returns the free heap; when it is done, the guard lets go.
//
// The arena guard keeps Pebble's arenas off heap pages a sync used before,
// which made the same sync peak 128 or 256 MiB higher from one run to the
// next (issue 21). An arena is filled with a few MiB, but the Go runtime
// zeroes a large allocation whole, so makes every page of it resident,
// unless every page it lands on is fresh or returned to the OS: one page
// of garbage swept since is enough.
//
// When expansion starts it returns the free heap to the OS and takes a
// placeholder of an arena's size above a released cushion: the heap below
// the placeholder then has no free run large enough, so expansion's arena
// comes from fresh address space above it. When expansion is done, the
// placeholder is dropped and the free heap, the expansion's dead arena
// included, returned to the OS, and again and again until the sync ends
// (releaseUntil): the sealing arenas land on released pages or fresh ones.
// Neither placeholder, cushion nor released pages cost RSS until written;
// each release is a collection (~5–60 ms). The placeholder is taken only
// under a Go memory limit (a one-shot sync sets one, serve with a memory
// budget too): it is live heap, and without a limit the collector would
// let garbage grow by its size before the next collection.
//
// baton-sdk offers no hook at the end of expansion (WithTransitionHandler
// reports only the start of a step; wrapping the store would hide the
// optional interfaces the syncer looks for), and service mode's task
// manager builds its syncer with no options of ours, so the ends are
// recognised by the syncer's own log messages, through a core added to
// the logger in the sync's context.
type expansion struct {
	onCollected func()
	guard       bool // the store is Pebble's

	mu          sync.Mutex
	started     bool
	placeholder []byte
	sealing     bool // counted in sealers
}

func newExpansion(engine c1zstore.Engine, onCollected func()) *expansion {
	return &expansion{onCollected: onCollected, guard: engine == c1zstore.EnginePebble}
}

// starts runs OnCollected, then releases the free heap and takes the
// placeholder; only the first call does anything.
func (x *expansion) starts() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.started {
		return
	}
	x.started = true
	// First, so that the guard returns what the caller frees to the OS
	// before expansion allocates.
	if x.onCollected != nil {
		x.onCollected()
	}
	if !x.guard {
		return
	}
	debug.FreeOSMemory()
	if debug.SetMemoryLimit(-1) == math.MaxInt64 {
		return
	}
	cushion := make([]byte, cushionBytes)
	x.placeholder = make([]byte, arenaBytes)
	runtime.KeepAlive(cushion) // allocated before the placeholder, freed after
	debug.FreeOSMemory()
}

// done releases the placeholder and the free heap, and keeps releasing it
// until the sync ends.
func (x *expansion) done() {
	if !x.guard {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.placeholder = nil
	debug.FreeOSMemory()
	if !x.sealing {
		x.sealing = true
		sealers.add()
	}
}

// release drops the placeholder of a sync that ended without finishing
// expansion, and ends its share of the releases while sealing.
func (x *expansion) release() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.placeholder = nil
	if x.sealing {
		x.sealing = false
		sealers.remove()
	}
}

// The sealing arenas come a while after expansion is done (baton-sdk
// offers no hook or log line just before them), and the syncer's work
// meanwhile leaves freed pages in the holes earlier arenas left in a
// long-lived process: an arena over even one such page is zeroed, and so
// resident, whole. In serve (2026-12-07), with one release at the end of
// expansion, a 1k-user sync after another peaked 108 MiB higher in 5 of 17
// runs, and a 10k-user sync 378–393 MiB above idle in 5 of 6 (else 308);
// releasing again every 50 ms or more until the sync ends, none of 10 did
// (two peaked 34 MiB higher) and 306 in 3 of 3, at the same CPU within
// noise: a release is a forced collection, cheap here since the heap is
// mostly the arenas' pointer-free bytes (~5 ms of CPU each at 10k users,
// ~50 a sync). The wait after a release is at least releaseSpacing times
// its length, so releases take at most a fifth of the wall time however
// large the heap; one releaser serves every sync sealing at once.
const (
	minReleaseInterval = 50 * time.Millisecond
	releaseSpacing     = 4
)

var sealers releaser

// releaser returns the free heap to the OS periodically while any sync
// seals its store.
type releaser struct {
	mu   sync.Mutex
	n    int
	stop chan struct{}
}

func (r *releaser) add() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.n == 1 {
		r.stop = make(chan struct{})
		go releaseUntil(r.stop)
	}
}

func (r *releaser) remove() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n--
	if r.n == 0 {
		close(r.stop)
	}
}

func releaseUntil(stop <-chan struct{}) {
	wait := minReleaseInterval
	for {
		t := time.NewTimer(wait)
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
		start := time.Now()
		debug.FreeOSMemory()
		wait = max(minReleaseInterval, releaseSpacing*time.Since(start))
	}
}

// watch returns ctx with its logger also telling x when expansion is
// done, and when it starts if startFromLog.
func (x *expansion) watch(ctx context.Context, startFromLog bool) context.Context {
	w := expansionWatcher{x: x, starts: startFromLog}
	l := ctxzap.Extract(ctx).WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewTee(c, w)
	}))
	return ctxzap.ToContext(ctx, l)
}

// WatchTask returns ctx for a sync that baton-sdk builds and runs with it
// itself (service mode's full-sync tasks, whose syncer takes no options of
// ours), doing what Run does around grant expansion: onCollected (if not
// nil) when it starts, and the arena guard for a Pebble store. Call end
// once the task is over.
func WatchTask(ctx context.Context, engine c1zstore.Engine, onCollected func()) (_ context.Context, end func()) {
	x := newExpansion(engine, onCollected)
	return x.watch(ctx, true), x.release
}

// expansionWatcher is a zapcore.Core that writes nothing: it sees every
// entry's message, at every level, before the logger's own core decides
// whether to write it.
type expansionWatcher struct {
	x      *expansion
	starts bool
}

func (expansionWatcher) Enabled(zapcore.Level) bool                 { return true }
func (w expansionWatcher) With([]zapcore.Field) zapcore.Core        { return w }
func (expansionWatcher) Write(zapcore.Entry, []zapcore.Field) error { return nil }
func (expansionWatcher) Sync() error                                { return nil }

func (w expansionWatcher) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	switch {
	case w.starts && e.Message == expansionStartMessage:
		w.x.starts()
	case e.Message == expansionDoneMessage:
		w.x.done()
	}
	return ce
}
