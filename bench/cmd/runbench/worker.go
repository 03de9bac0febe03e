package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/baton-runner/baton-runner/guest/segment"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/connector"
	"github.com/baton-runner/baton-runner/internal/native"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// workerResult is what a worker prints on stdout (one JSON line) so the
// parent can split the child's wall time into setup and sync.
type workerResult struct {
	SetupSeconds float64 `json:"setup_seconds"` // compile/instantiate (sandboxed) or client setup (native)
	SyncSeconds  float64 `json:"sync_seconds"`  // localsync.Run, i.e. the baton-sdk sync itself
	PeakRSSKiB   int64   `json:"peak_rss_kib"`  // VmHWM of this process; 0 where /proc is missing
	// Breakdown is what the memory was at its highest sampled RSS
	// (--breakdown only).
	Breakdown *breakdown `json:"breakdown,omitempty"`
}

// runWorker performs exactly one sync and exits. It runs in its own process
// so the parent can read that process's CPU time and peak RSS from rusage,
// undisturbed by the simulator and by earlier runs. It can also be run by
// hand against `bin/baton-runner sim` (see BENCHMARKS.md).
func runWorker(args []string) error {
	fs := flag.NewFlagSet("worker", flag.ExitOnError)
	mode := fs.String("mode", "", "native or sandboxed")
	baseURL := fs.String("base-url", "", "Segment API origin (the simulator)")
	token := fs.String("token", segmentsim.DefaultToken, "API token")
	file := fs.String("file", "", "c1z file to write")
	cacheDir := fs.String("cache-dir", "", "wazero compilation cache (sandboxed)")
	wasmPath := fs.String("wasm", "bin/segment.wasm", "guest module (sandboxed)")
	tmpDir := fs.String("tmp-dir", "", "baton-sdk scratch directory (default: system temp)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole worker to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile (allocations of the whole worker, in use at its end) to this file")
	engine := fs.String("storage-engine", "", "c1z storage engine: sqlite or pebble (default: localsync's)")
	sample := fs.Bool("breakdown", false, "read /proc/self/smaps as the RSS grows and report what the memory was at its highest (costs CPU)")
	_ = fs.Parse(args)
	if *baseURL == "" || *file == "" {
		return errors.New("worker: --base-url and --file are required")
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	if *memProfile != "" {
		defer func() {
			if err := writeHeapProfile(*memProfile); err != nil {
				fmt.Fprintln(os.Stderr, "worker:", err)
			}
		}()
	}
	// As `baton-runner sync` does; GOMEMLIMIT (e.g. "off") overrides it.
	localsync.LimitOneShotMemory()
	storageEngine, err := localsync.ParseStorageEngine(*engine)
	if err != nil {
		return err
	}

	ctx := context.Background()
	// Both modes get the CLI's defaults: the same requests in flight and
	// sync workers.
	eg := egress.Config{BaseURL: *baseURL, Token: secret.New(*token), MaxInFlight: synclimits.DefaultMaxInFlight}
	opts := localsync.Options{Path: *file, TmpDir: *tmpDir, StorageEngine: storageEngine, Workers: sandbox.DefaultInstances}
	var smp *sampler
	if *sample {
		if smp, err = startSampler(); err != nil {
			return fmt.Errorf("worker --breakdown: %w", err)
		}
	}
	start := time.Now()
	var setup time.Duration
	switch *mode {
	case "sandboxed":
		setup, err = syncSandboxed(ctx, *wasmPath, *cacheDir, eg, opts, start, smp)
	case "native":
		setup, err = syncNative(ctx, eg, opts, start)
	default:
		return fmt.Errorf("worker: --mode must be native or sandboxed, not %q", *mode)
	}
	if err != nil {
		return fmt.Errorf("worker %s: %w", *mode, err)
	}
	total := time.Since(start)
	return json.NewEncoder(os.Stdout).Encode(workerResult{
		SetupSeconds: setup.Seconds(),
		SyncSeconds:  (total - setup).Seconds(),
		PeakRSSKiB:   peakRSSKiB(),
		Breakdown:    smp.finish(),
	})
}

// writeHeapProfile writes the heap profile: go tool pprof -sample_index
// alloc_space shows where the worker allocated, inuse_space what it held
// at the end.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// peakRSSKiB is the high-water RSS of this process's own address space.
// The parent cannot use the child's rusage ru_maxrss for this: Go starts
// children with clone(CLONE_VM|CLONE_VFORK), and at execve Linux folds the
// shared (parent's) address space's high-water mark into the child's
// maxrss, so a 10 MiB child of a 500 MiB parent reports 500 MiB. VmHWM is
// per address space and starts afresh at execve.
func peakRSSKiB() int64 {
	var kib int64
	_, _ = fmt.Sscanf(procField("/proc/self/status", "VmHWM"), "%d kB", &kib)
	return kib
}

// syncSandboxed is what `baton-runner sync` does: compile the guest (through
// the persistent cache), bind a tenant to it and sync, closing the module
// when the connector is done.
func syncSandboxed(ctx context.Context, wasmPath, cacheDir string, eg egress.Config, opts localsync.Options, start time.Time, smp *sampler) (time.Duration, error) {
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		return 0, err
	}
	m, err := sandbox.Compile(ctx, sandbox.Config{Wasm: wasm, CacheDir: cacheDir})
	if err != nil {
		return 0, err
	}
	defer m.Close(ctx)
	t, err := tenant.New(m, tenant.Config{Name: "bench", Egress: eg, Instances: sandbox.DefaultInstances})
	if err != nil {
		return 0, err
	}
	defer t.Close(ctx)
	smp.watchGuest(func() int64 { return t.Stats().MemoryBytes })
	setup := time.Since(start)
	opts.OnCollected = func() { _ = m.Close(ctx) } // as runSync's closeWhenCollected
	return setup, t.Sync(ctx, opts)
}

// syncNative runs the same connector logic in-process behind the same
// connector.Caller seam, so the difference to syncSandboxed is the sandbox.
func syncNative(ctx context.Context, eg egress.Config, opts localsync.Options, start time.Time) (time.Duration, error) {
	hc, err := egress.New(eg)
	if err != nil {
		return 0, err
	}
	seg := segment.New()
	runner := &native.Runner{Connector: seg, HTTP: hc}
	cc, err := connector.NewClient(ctx, connector.New(runner, seg.Metadata(), nil), connector.ClientOptions{})
	if err != nil {
		return 0, err
	}
	defer cc.Close()
	setup := time.Since(start)
	return setup, localsync.Run(ctx, cc, opts)
}
