package localsync

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"sync"

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

// expansionDoneMessage is what baton-sdk's syncer logs, at debug level,
// once grant expansion is complete and before it seals the store (v0.26.0,
// pkg/sync/syncer.go expandGrantsForEntitlements). TestArenaGuardSeesBothEnds
// fails if a baton-sdk upgrade stops logging it.
const expansionDoneMessage = "expandGrantsForEntitlements: graph is expanded"

// arenaGuard keeps Pebble's arenas off heap pages a sync used before, which
// made the same sync peak 128 or 256 MiB higher from one run to the next
// (issue 21). An arena is filled with a few MiB, but the Go runtime zeroes
// a large allocation whole, so makes every page of it resident, unless
// every page it lands on is fresh or returned to the OS: one page of
// garbage swept since is enough.
//
// When expansion starts it returns the free heap to the OS and takes a
// placeholder of an arena's size above a released cushion: the heap below
// the placeholder then has no free run large enough, so expansion's arena
// comes from fresh address space above it. When expansion is done, the
// placeholder is dropped and the free heap, the expansion's dead arena
// included, returned to the OS: the sealing arenas land on those released
// pages or fresh ones. Neither placeholder, cushion nor released pages
// cost RSS until written; each release is a collection (~5–60 ms), three
// a sync. The placeholder is taken only under a Go memory limit (a
// one-shot sync sets one, serve with a memory budget too): it is live
// heap, and without a limit the collector would let garbage grow by its
// size before the next collection. Service mode's sync tasks do not come
// through here: baton-sdk's task manager builds their syncer.
//
// baton-sdk offers no hook at the end of expansion (WithTransitionHandler
// reports only the start of a step; wrapping the store would hide the
// optional interfaces the syncer looks for), so the end is recognised by
// the syncer's own log message, through a core added to the logger in the
// sync's context.
type arenaGuard struct {
	mu          sync.Mutex
	placeholder []byte
}

// expansionStarts releases the free heap and takes the placeholder.
func (g *arenaGuard) expansionStarts() {
	g.mu.Lock()
	defer g.mu.Unlock()
	debug.FreeOSMemory()
	if g.placeholder != nil || debug.SetMemoryLimit(-1) == math.MaxInt64 {
		return
	}
	cushion := make([]byte, cushionBytes)
	g.placeholder = make([]byte, arenaBytes)
	runtime.KeepAlive(cushion) // allocated before the placeholder, freed after
	debug.FreeOSMemory()
}

// expansionDone releases the placeholder and the free heap.
func (g *arenaGuard) expansionDone() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.placeholder = nil
	debug.FreeOSMemory()
}

// release drops the placeholder of a sync that ended without finishing
// expansion.
func (g *arenaGuard) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.placeholder = nil
}

// watch returns ctx with its logger also telling g when expansion is done.
func (g *arenaGuard) watch(ctx context.Context) context.Context {
	l := ctxzap.Extract(ctx).WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewTee(c, expansionWatcher{g})
	}))
	return ctxzap.ToContext(ctx, l)
}

// expansionWatcher is a zapcore.Core that writes nothing: it sees every
// entry's message, at every level, before the logger's own core decides
// whether to write it.
type expansionWatcher struct{ g *arenaGuard }

func (expansionWatcher) Enabled(zapcore.Level) bool                 { return true }
func (w expansionWatcher) With([]zapcore.Field) zapcore.Core        { return w }
func (expansionWatcher) Write(zapcore.Entry, []zapcore.Field) error { return nil }
func (expansionWatcher) Sync() error                                { return nil }

func (w expansionWatcher) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Message == expansionDoneMessage {
		w.g.expansionDone()
	}
	return ce
}
