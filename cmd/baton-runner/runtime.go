package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/config"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/synclimits"
)

// guests holds the guest modules `make build` embeds (see guests/README.md).
//
//go:embed guests
var guests embed.FS

const defaultModule = "segment.wasm"

// runtimeFlags configure the sandbox; shared by every command that runs a
// guest.
func runtimeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "module", Usage: "guest module (.wasm) to run; default: the Segment guest embedded in this binary, else " + defaultModule + " next to it", EnvVars: []string{"BATON_MODULE"}},
		&cli.StringFlag{Name: "cache-dir", Usage: "compilation cache directory (default: baton-runner/wazero under the user cache dir)", EnvVars: []string{"BATON_CACHE_DIR"}},
		&cli.IntFlag{Name: "memory-limit-mib", Value: sandbox.DefaultMemoryLimitMiB, Usage: "memory limit of each guest instance, MiB", EnvVars: []string{"BATON_MEMORY_LIMIT_MIB"}},
		&cli.DurationFlag{Name: "call-timeout", Value: sandbox.DefaultCallTimeout, Usage: "time limit of each guest call", EnvVars: []string{"BATON_CALL_TIMEOUT"}},
		&cli.IntFlag{Name: "instances", Value: config.DefaultInstancesPerTenant, Usage: "guest instances: concurrent guest calls, and sync workers", EnvVars: []string{"BATON_INSTANCES"}},
		setFlag(),
	}
}

// limitFlags bound each whole sync, as runner.toml's sync limits do; every
// command that syncs takes them.
func limitFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "sync-timeout", Value: synclimits.DefaultTimeout, Usage: "wall-time limit of one sync", EnvVars: []string{"BATON_SYNC_TIMEOUT"}},
		&cli.Int64Flag{Name: "max-pages", Value: synclimits.DefaultMaxPages, Usage: "limit of guest list calls (pages) per sync", EnvVars: []string{"BATON_MAX_PAGES"}},
		&cli.Int64Flag{Name: "max-empty-pages", Value: synclimits.DefaultMaxEmptyPages, Usage: "limit of pages in a row of one listing without progress (nothing listed, or the same page token)", EnvVars: []string{"BATON_MAX_EMPTY_PAGES"}},
		&cli.Int64Flag{Name: "max-items", Value: synclimits.DefaultMaxItems, Usage: "limit of resources, entitlements and grants per sync", EnvVars: []string{"BATON_MAX_ITEMS"}},
		&cli.IntFlag{Name: "max-depth", Value: synclimits.DefaultMaxDepth, Usage: "limit of how deep child resources nest", EnvVars: []string{"BATON_MAX_DEPTH"}},
		&cli.Int64Flag{Name: "max-c1z-mib", Value: synclimits.DefaultMaxC1ZBytes >> 20, Usage: "disk limit of the sync's c1z store, MiB", EnvVars: []string{"BATON_MAX_C1Z_MIB"}},
		&cli.Int64Flag{Name: "request-budget", Usage: "API requests per sync (0: unlimited)", EnvVars: []string{"BATON_REQUEST_BUDGET"}},
		&cli.IntFlag{Name: "max-in-flight", Value: synclimits.DefaultMaxInFlight, Usage: "API requests in flight at once per tenant (lowered on 429s, paced by the API's rate-limit window)", EnvVars: []string{"BATON_MAX_IN_FLIGHT"}},
	}
}

// syncLimits reads the limit flags of a command that has them, with
// runner.toml's ranges.
func syncLimits(c *cli.Context) (synclimits.Limits, error) {
	var errs []error
	check := func(flag, env string, v, lo, hi int64) int64 {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("--%s (%s) must be between %d and %d, not %d", flag, env, lo, hi, v))
		}
		return v
	}
	l := synclimits.Limits{
		Timeout:       c.Duration("sync-timeout"),
		MaxPages:      check("max-pages", "BATON_MAX_PAGES", c.Int64("max-pages"), 1, config.MaxMaxPages),
		MaxEmptyPages: check("max-empty-pages", "BATON_MAX_EMPTY_PAGES", c.Int64("max-empty-pages"), 1, config.MaxMaxPages),
		MaxItems:      check("max-items", "BATON_MAX_ITEMS", c.Int64("max-items"), 1, config.MaxMaxItems),
		MaxDepth:      int(check("max-depth", "BATON_MAX_DEPTH", int64(c.Int("max-depth")), 1, config.MaxMaxDepth)),
		MaxC1ZBytes:   check("max-c1z-mib", "BATON_MAX_C1Z_MIB", c.Int64("max-c1z-mib"), config.MinMaxC1ZMiB, config.MaxMaxC1ZMiB) << 20,
		RequestBudget: check("request-budget", "BATON_REQUEST_BUDGET", c.Int64("request-budget"), 0, config.MaxRequestBudget),
		MaxInFlight:   int(check("max-in-flight", "BATON_MAX_IN_FLIGHT", int64(c.Int("max-in-flight")), 1, config.MaxMaxInFlight)),
	}
	if l.Timeout < config.MinSyncTimeout || l.Timeout > config.MaxSyncTimeout {
		errs = append(errs, fmt.Errorf("--sync-timeout (BATON_SYNC_TIMEOUT) must be between %s and %s, not %s", config.MinSyncTimeout, config.MaxSyncTimeout, l.Timeout))
	}
	return l, errors.Join(errs...)
}

// loadModule reads the guest module: --module, else the embedded one, else
// one next to the executable, so the binary works from any directory.
func loadModule(path string) ([]byte, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading guest module: %w", err)
		}
		return b, nil
	}
	if b, err := fs.ReadFile(guests, "guests/"+defaultModule); err == nil {
		return b, nil
	}
	if exe, err := os.Executable(); err == nil {
		if b, err := os.ReadFile(filepath.Join(filepath.Dir(exe), defaultModule)); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("no guest module: this binary embeds none and there is no " + defaultModule +
		" next to it; build with `make build` or pass --module path/to/" + defaultModule)
}

// gcMu pairs each relaxGC with its restore when modules compile at once.
var gcMu sync.Mutex

// relaxGC lets the heap grow to five times its live data until the
// returned function restores the GC percent, unless the operator set
// GOGC. Decoding and validating a guest module allocates a lot while a
// starting process's heap is still small: with Go's default the warm
// start of a sync (process start to first API request) spent 25–45 ms
// collecting (171 → 124–147 ms with 400).
func relaxGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	gcMu.Lock()
	prev := debug.SetGCPercent(400)
	return func() {
		debug.SetGCPercent(prev)
		gcMu.Unlock()
	}
}

// compileHeapBytes is the heap above which a compile's leftovers are worth
// a collection to return: the Segment guest's compile stays well below.
const compileHeapBytes = 64 << 20

// releaseCompileHeap returns what compiling left behind (the module's
// bytes, their instrumented copy, the decoder's garbage) to the OS once
// the heap holding it is large: the runtime gives free heap back only
// slowly, and the sync that follows would carry it at its peak. A 48 MB
// baton-sdk module (the demo's) leaves ~130 MiB (its 1k-user sync: 491 ->
// 454 MiB); the Segment guest's compile is not worth the collection
// (nothing measurable in its sync's peak).
func releaseCompileHeap() {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	if s[0].Value.Uint64()+s[1].Value.Uint64() > compileHeapBytes {
		debug.FreeOSMemory()
	}
}

// compileModule loads and compiles the guest with the runtime flags, or
// takes the one main compiled before parsing them.
func compileModule(ctx context.Context, c *cli.Context, logger *zap.Logger) (*sandbox.Module, error) {
	key := moduleKey{path: c.String("module"), cacheDir: c.String("cache-dir"), memoryMiB: c.Int("memory-limit-mib"), callTimeout: c.Duration("call-timeout")}
	if m := prepared.take(ctx, key); m != nil {
		logger.Debug("guest module ready", zap.String("sha256", m.SHA256()), zap.String("compiled", "before the command line was parsed"))
		return m, nil
	}
	return compileKey(ctx, key, logger)
}

// compileKey loads and compiles the guest key describes.
func compileKey(ctx context.Context, key moduleKey, logger *zap.Logger) (*sandbox.Module, error) {
	wasm, err := loadModule(key.path)
	if err != nil {
		return nil, err
	}
	dir := key.cacheDir
	if dir == "" {
		dir = config.DefaultCacheDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating compilation cache %s: %w (set --cache-dir)", dir, err)
	}
	start := time.Now()
	restoreGC := relaxGC()
	m, err := sandbox.Compile(ctx, sandbox.Config{
		Wasm:           wasm,
		CacheDir:       dir,
		MemoryLimitMiB: key.memoryMiB,
		CallTimeout:    key.callTimeout,
		Logger:         logger,
	})
	restoreGC()
	releaseCompileHeap()
	if err != nil {
		return nil, err
	}
	logger.Debug("guest module ready", zap.String("sha256", m.SHA256()), zap.Duration("compile", time.Since(start)))
	return m, nil
}
