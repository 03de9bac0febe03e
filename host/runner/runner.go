// Package runner runs many tenants in one process: each tenant is a
// connector configuration (its own API origin, secret and schedule or
// ConductorOne credentials) on a guest module compiled once and shared.
// Tenants are isolated by the sandbox; a tenant that fails (a guest that
// traps, times out, exhausts its memory or its API budget) is restarted
// with back-off while the others keep their schedules. Apply reconciles the
// running tenants with a new Spec, which is how configuration reloads work.
package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"sync"
	"time"

	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"
	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"

	"github.com/baton-runner/baton-runner/host/membudget"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/host/tenant"
)

// Runtime holds the sandbox settings every module is compiled with.
type Runtime struct {
	CacheDir       string
	MemoryLimitMiB int
	CallTimeout    time.Duration
}

// Module is a guest module tenants refer to by name.
type Module struct {
	Name string
	Wasm []byte
}

// Mode says what a tenant does.
type Mode int

// The modes of a tenant.
const (
	// ModeSync syncs into a c1z file every interval.
	ModeSync Mode = iota
	// ModeService serves ConductorOne tasks.
	ModeService
)

// TenantSpec describes one tenant. Two specs are the same tenant
// configuration when they are deeply equal.
type TenantSpec struct {
	Name   string
	Module string
	// The API origin, the token and the request budget; the runner adds
	// the audit and wait reporting.
	BaseURL           string
	Token             secret.Secret
	RequestsPerMinute int
	Instances         int
	// Limits bound each whole sync (zero fields: synclimits' defaults).
	Limits synclimits.Limits
	Mode   Mode
	// Sync mode.
	Interval time.Duration
	Output   string
	// Service mode.
	ClientID     string
	ClientSecret secret.Secret
	Provisioning bool
	// Settings are non-secret settings passed to the guest.
	Settings map[string]string
	// Origins and Secrets are a baton-sdk guest's API origins and secret
	// fields (tenant.Config); BaseURL and Token are unused then. A
	// tenant's RootCAs compare equal across reloads only as the same
	// pointer, so a caller reuses the pool of an unchanged CA bundle.
	Origins []tenant.Origin
	Secrets map[string]secret.Secret
	// Revealed names the Secrets the guest receives the values of
	// (tenant.Config.Revealed).
	Revealed []string

	// StorageEngine is the c1z storage engine of the tenant's syncs, in
	// either mode ("": localsync.DefaultStorageEngine).
	StorageEngine c1zstore.Engine
}

// Spec is everything the runner should be running.
type Spec struct {
	Runtime Runtime
	// MaxConcurrentSyncs bounds the scheduled syncs running at once across
	// tenants (default 2): a running sync holds baton-sdk's c1z store, far
	// more memory than an idle tenant, and more syncs than cores do not
	// finish sooner. Waiting tenants get slots in arrival order, and each
	// sync holds its slot at most its sync_timeout (see syncSlots).
	MaxConcurrentSyncs int
	// ProcessMemoryMiB is the process's memory budget (0: none): a sync,
	// scheduled or a service-mode tenant's sync task, starts only once its
	// tenant's estimated peak fits beside those of the syncs running (see
	// membudget.Budget), and one that cannot fit even alone fails with an
	// error saying what to raise. The caller sets the Go runtime's limit
	// from it (membudget.SetGoMemoryLimit).
	ProcessMemoryMiB int
	Modules          []Module
	Tenants          []TenantSpec
}

// Options tune the runner; zero values are the defaults.
type Options struct {
	Logger *zap.Logger
	// Metrics records per-tenant activity; nil records nothing.
	Metrics *Metrics
	// RestartBackoff is the first wait after a failure (default 5s);
	// it doubles up to MaxRestartBackoff (default 5m), each wait jittered
	// ±50% and capped at MaxRestartBackoff.
	RestartBackoff, MaxRestartBackoff time.Duration
	// ShardIndex and ShardCount select the tenants of this process: a
	// tenant runs where ShardOf(name, count) == index. Count 0 or 1 runs
	// every tenant.
	ShardIndex, ShardCount int
	// ShutdownTimeout is how long a service-mode tenant's tasks in flight
	// may finish once the tenant is stopped (see service.Config); default
	// 30s.
	ShutdownTimeout time.Duration
	// OnStatus, if set, is called with a tenant's status each time the
	// runner records something of it: started, syncing, synced, failed,
	// waiting for reload. It runs on the tenant's goroutine, so it must
	// not block. A service tenant's connection to ConductorOne is not an
	// event of its own: Status reports it when read.
	OnStatus func(TenantStatus)
}

// processMemorySetting is what an operator raises when a tenant's sync
// cannot fit in Spec.ProcessMemoryMiB, as its error names it.
const processMemorySetting = "[runtime] process_memory_mib (serve --process-memory-mib, BATON_PROCESS_MEMORY_MIB)"

// ErrStopped is returned by Apply once Stop has been called.
var ErrStopped = errors.New("runner: stopped")

// Runner runs tenants. It is safe for concurrent use.
type Runner struct {
	opts Options
	log  *zap.Logger

	// base is the parent of every tenant's context. Stop cancels it before
	// anything else, so every tenant, including those an Apply is busy
	// stopping, is told to stop at once.
	base       context.Context
	cancelBase context.CancelFunc
	// applying serialises Apply, and lets Stop wait for one in progress
	// only as long as Stop's own context allows. modules and runtime
	// change only while it is held.
	applying *semaphore.Weighted
	runtime  Runtime
	modules  map[string]*compiled

	mu      sync.Mutex // guards tenants
	tenants map[string]*running

	syncs  *syncSlots
	memory *membudget.Budget
	status *statusBoard
}

type compiled struct {
	sha    string
	module *sandbox.Module
}

type running struct {
	spec   TenantSpec
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a runner with nothing running.
func New(opts Options) *Runner {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.RestartBackoff <= 0 {
		opts.RestartBackoff = 5 * time.Second
	}
	if opts.MaxRestartBackoff <= 0 {
		opts.MaxRestartBackoff = 5 * time.Minute
	}
	base, cancel := context.WithCancel(context.Background())
	status := newStatusBoard(opts.OnStatus)
	r := &Runner{
		opts: opts, log: opts.Logger, base: base, cancelBase: cancel, applying: semaphore.NewWeighted(1),
		modules: map[string]*compiled{}, tenants: map[string]*running{}, syncs: newSyncSlots(0),
		status: status, memory: membudget.New(membudget.Config{Setting: processMemorySetting, OnEstimate: status.estimated}),
	}
	opts.Metrics.watch(r.status, r.memory)
	return r
}

// ShardOf returns the shard of a tenant: a stable hash of its name, so that
// every process of a StatefulSet agrees without coordination.
func ShardOf(name string, count int) int {
	if count <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return int(h.Sum32() % uint32(count))
}

// Apply makes the runner run spec: it compiles modules that are new or
// changed, stops tenants that are gone or changed, and starts those that
// are new or changed. Tenants whose spec is unchanged keep running
// untouched. If a module fails to compile, nothing is changed.
//
// Changed tenants are stopped together and Apply waits for all of them
// (a sync tenant stops within moments of its cancellation, a service
// tenant gives its tasks in flight Options.ShutdownTimeout). A Stop during
// that wait does not wait for Apply beyond its own deadline; Apply then
// starts nothing and returns ErrStopped.
func (r *Runner) Apply(ctx context.Context, spec Spec) error {
	if err := r.applying.Acquire(ctx, 1); err != nil {
		return err
	}
	defer r.applying.Release(1)
	if r.base.Err() != nil {
		return ErrStopped
	}

	modules, err := r.compileAll(ctx, spec)
	if err != nil {
		return err
	}
	// closeNew releases the modules this Apply compiled, when it ends
	// without using them.
	closeNew := func() {
		for name, c := range modules {
			if r.modules[name] != c {
				_ = c.module.Close(context.WithoutCancel(ctx))
			}
		}
	}
	want := map[string]TenantSpec{}
	for _, t := range spec.Tenants {
		if _, ok := modules[t.Module]; !ok {
			closeNew()
			return fmt.Errorf("tenant %s: unknown module %q", t.Name, t.Module)
		}
		if ShardOf(t.Name, r.opts.ShardCount) != r.opts.ShardIndex%max(r.opts.ShardCount, 1) {
			continue
		}
		want[t.Name] = t
	}
	runtimeChanged := spec.Runtime != r.runtime
	r.syncs.setLimit(spec.MaxConcurrentSyncs)
	r.memory.SetLimit(int64(spec.ProcessMemoryMiB) << 20)

	r.mu.Lock()
	var stopping []*running
	for name, rt := range r.tenants {
		w, keep := want[name]
		moduleChanged := modules[rt.spec.Module] != r.modules[rt.spec.Module]
		if keep && reflect.DeepEqual(w, rt.spec) && !moduleChanged && !runtimeChanged {
			continue
		}
		r.log.Info("stopping tenant", zap.String("tenant", name), zap.Bool("removed", !keep))
		rt.cancel()
		stopping = append(stopping, rt)
		delete(r.tenants, name)
		r.status.remove(name)
		if !keep {
			r.memory.Forget(name)
		}
	}
	r.mu.Unlock()
	for _, rt := range stopping {
		<-rt.done
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.base.Err() != nil {
		closeNew()
		return ErrStopped
	}
	old := r.modules
	r.modules, r.runtime = modules, spec.Runtime
	for name, m := range old {
		if modules[name] != m {
			_ = m.module.Close(context.WithoutCancel(ctx))
		}
	}
	for name, t := range want {
		if _, ok := r.tenants[name]; ok {
			continue
		}
		r.log.Info("starting tenant", zap.String("tenant", name))
		r.tenants[name] = r.start(t, modules[t.Module].module)
	}
	r.status.applied()
	return nil
}

// compileAll returns the modules of spec, reusing compiled ones whose
// bytes and runtime settings are unchanged, or, if any module fails,
// none of them and every failure.
func (r *Runner) compileAll(ctx context.Context, spec Spec) (map[string]*compiled, error) {
	out, failed := r.compileEach(ctx, spec)
	var errs []error
	for _, m := range spec.Modules {
		if err := failed[m.Name]; err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		for name, c := range out {
			if r.modules[name] != c {
				_ = c.module.Close(ctx)
			}
		}
		return nil, err
	}
	return out, nil
}

// compileEach compiles the modules of spec one by one: a module that is
// refused fails only its own tenants.
func (r *Runner) compileEach(ctx context.Context, spec Spec) (map[string]*compiled, map[string]error) {
	out, failed := map[string]*compiled{}, map[string]error{}
	for _, m := range spec.Modules {
		sum := sha256.Sum256(m.Wasm)
		sha := hex.EncodeToString(sum[:])
		if c, ok := r.modules[m.Name]; ok && c.sha == sha && spec.Runtime == r.runtime {
			out[m.Name] = c
			continue
		}
		mod, err := sandbox.Compile(ctx, sandbox.Config{
			Wasm: m.Wasm, CacheDir: spec.Runtime.CacheDir, MemoryLimitMiB: spec.Runtime.MemoryLimitMiB,
			CallTimeout: spec.Runtime.CallTimeout, Logger: r.log.With(zap.String("module", m.Name)),
		})
		if err != nil {
			failed[m.Name] = fmt.Errorf("module %s: %w", m.Name, err)
			continue
		}
		out[m.Name] = &compiled{sha: sha, module: mod}
	}
	return out, failed
}

// Stop cancels every tenant at once, including those a concurrent Apply
// is stopping, then waits until they have stopped (each finishing or
// abandoning its current work as its mode does on cancellation) and
// releases the modules. It returns when ctx ends even if some tenant or
// an Apply has not finished: then it leaves the modules to the process's
// exit rather than close them under a running guest. After Stop, Apply
// returns ErrStopped.
func (r *Runner) Stop(ctx context.Context) {
	r.cancelBase()
	r.mu.Lock()
	tenants := r.tenants
	r.tenants = map[string]*running{}
	r.mu.Unlock()

	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, rt := range tenants {
			<-rt.done
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		r.log.Warn("stopping: tenants still running at the end of the grace period; not waiting for them")
		return
	}
	if err := r.applying.Acquire(ctx, 1); err != nil {
		r.log.Warn("stopping: a reload was still stopping tenants at the end of the grace period; not waiting for it")
		return
	}
	defer r.applying.Release(1)
	for name, m := range r.modules {
		_ = m.module.Close(context.WithoutCancel(ctx))
		delete(r.modules, name)
	}
	r.syncs.close()
}

// Tenants returns the names of the tenants this process runs.
func (r *Runner) Tenants() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.tenants))
	for name := range r.tenants {
		out = append(out, name)
	}
	return out
}

// Check validates spec as Apply would, without running anything: every
// module compiles with the spec's runtime settings, and every tenant names
// one of them. `config check` uses it, so that it and serve agree.
func Check(ctx context.Context, spec Spec, log *zap.Logger) error {
	r := New(Options{Logger: log})
	defer r.cancelBase()
	modules, err := r.compileAll(ctx, spec)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range modules {
			_ = c.module.Close(context.WithoutCancel(ctx))
		}
	}()
	var errs []error
	for _, t := range spec.Tenants {
		if _, ok := modules[t.Module]; !ok {
			errs = append(errs, fmt.Errorf("tenant %s: unknown module %q", t.Name, t.Module))
		}
	}
	return errors.Join(errs...)
}
