package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/membudget"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/service"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/host/waitlog"
)

// start runs a tenant under supervision until stopped.
func (r *Runner) start(spec TenantSpec, m *sandbox.Module) *running {
	ctx, cancel := context.WithCancel(r.base)
	r.status.update(spec.Name, func(*TenantStatus) {})
	if est, ok := r.memory.Estimate(spec.Name); ok {
		r.status.estimated(spec.Name, est) // a restarted tenant's last measure
	}
	rt := &running{spec: spec, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rt.done)
		r.supervise(ctx, spec, m)
	}()
	return rt
}

// supervise runs the tenant, and after each failure builds it anew (fresh
// guest instances) after a back-off that doubles while failures continue.
func (r *Runner) supervise(ctx context.Context, spec TenantSpec, m *sandbox.Module) {
	log := r.log.With(zap.String("tenant", spec.Name))
	wait := r.restartBackOff()
	for {
		ok, err := r.runTenant(ctx, spec, m, log)
		if ctx.Err() != nil {
			// Stopped (reload, shutdown): not a failure, no restart.
			return
		}
		if ok {
			wait.reset()
		}
		d := wait.next()
		// One line per failure, its reason in one sentence: the status
		// chain under it repeats the same words at every layer.
		reason, stop := r.status.failed(spec.Name, err, time.Now().Add(d))
		if stop {
			// A rejected token stays rejected: retrying only adds load
			// and lines. A reload with a changed secret restarts it.
			log.Error("tenant's credentials were rejected; not retrying until the configuration is reloaded",
				zap.String("reason", reason), zap.Int("attempts", AuthFailuresBeforeStop))
			<-ctx.Done()
			return
		}
		r.opts.Metrics.restart(spec.Name)
		log.Error("tenant failed; restarting", zap.String("reason", reason), zap.Duration("backoff", d))
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

// restartBackOff is RestartBackoff doubling up to MaxRestartBackoff, each
// wait jittered ±50% (and still at most MaxRestartBackoff): tenants that
// failed together, say on one upstream outage, restart spread out rather
// than all at once.
type restartBackOff struct {
	b   backoff.ExponentialBackOff
	max time.Duration
}

func (r *Runner) restartBackOff() *restartBackOff {
	w := &restartBackOff{b: backoff.ExponentialBackOff{
		InitialInterval: r.opts.RestartBackoff, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: r.opts.MaxRestartBackoff,
	}, max: r.opts.MaxRestartBackoff}
	w.b.Reset()
	return w
}

func (w *restartBackOff) next() time.Duration { return min(w.b.NextBackOff(), w.max) }

// reset starts over from RestartBackoff.
func (w *restartBackOff) reset() { w.b.Reset() }

// audit records a tenant's egress in the metrics and, at debug level, the
// log.
func (r *Runner) audit(name string, log *zap.Logger) func(egress.Record) {
	metrics := r.opts.Metrics.auditFor(name)
	return func(rec egress.Record) {
		if metrics != nil {
			metrics(rec)
		}
		log.Debug("egress", zap.Any("request", rec))
	}
}

// admit waits for a sync slot, then for the tenant's estimated peak to
// fit the memory budget (in that order, so that the slot queue's order
// is the memory queue's too), calling waitingForMemory if it has to wait
// for the latter; release gives both back, ok saying the sync succeeded.
// reserved is the memory reserved, in bytes. Scheduled syncs and service
// tenants' sync tasks are admitted alike.
func (r *Runner) admit(ctx context.Context, name string, waitingForMemory func()) (release func(ok bool), reserved int64, err error) {
	releaseSlot, err := r.syncs.acquire(ctx)
	if err != nil {
		return nil, 0, err
	}
	ticket, err := r.memory.Acquire(ctx, name, waitingForMemory)
	if err != nil {
		releaseSlot()
		return nil, 0, err
	}
	return func(ok bool) { ticket.Release(ok); releaseSlot() }, ticket.Reserved(), nil
}

// admitTask admits a service tenant's sync task as admit does a scheduled
// sync; the tenant's phase stays serving, its other tasks running.
func (r *Runner) admitTask(name string, log *zap.Logger) func(ctx context.Context) (func(ok bool), error) {
	return func(ctx context.Context) (func(ok bool), error) {
		release, _, err := r.admit(ctx, name, func() { log.Info("sync task waiting for the process memory budget") })
		return release, err
	}
}

// newTenant binds a tenant's spec to its module; its waits are told to
// waits, whose Flush ends each sync.
func (r *Runner) newTenant(spec TenantSpec, m *sandbox.Module, log *zap.Logger, waits *waitlog.Log) (*tenant.Tenant, error) {
	audit := r.audit(spec.Name, log)
	held := r.opts.Metrics.heldFor(spec.Name)
	setting := "base_url of tenant " + spec.Name
	if len(spec.Origins) > 0 {
		setting = "origins of tenant " + spec.Name
	}
	return tenant.New(m, tenant.Config{
		Name: spec.Name,
		Egress: egress.Config{
			BaseURL: spec.BaseURL, Token: spec.Token, RequestsPerMinute: spec.RequestsPerMinute,
			BaseURLSetting:   setting,
			ConnectToSetting: "connect_to of tenant " + spec.Name,
			Audit:            func(rec egress.Record) { audit(rec); waits.Record(rec) },
			OnWait:           waits.Wait,
			OnHeld:           func(d time.Duration) { held(d); waits.Held(d) },
		},
		Settings:  spec.Settings,
		Origins:   spec.Origins,
		Secrets:   spec.Secrets,
		Revealed:  spec.Revealed,
		Instances: spec.Instances,
		Limits:    spec.Limits,
		Logger:    r.log,
	})
}

// runTenant builds the tenant and runs it until it fails or ctx ends; ok
// reports that it did useful work before failing (which resets the
// back-off).
func (r *Runner) runTenant(ctx context.Context, spec TenantSpec, m *sandbox.Module, log *zap.Logger) (ok bool, err error) {
	waits := waitlog.New(log, progressInterval)
	t, err := r.newTenant(spec, m, log, waits)
	if err != nil {
		return false, err
	}
	// Pool statistics count from the tenant's creation; report the
	// difference since the last report.
	var reported sandbox.Stats
	report := func() {
		now := t.Stats()
		r.opts.Metrics.sandbox(spec.Name, now, reported)
		reported = now
	}
	defer func() {
		t.Close(context.WithoutCancel(ctx))
		report() // after Close: the tenant's memory is released
	}()

	if spec.Mode == ModeService {
		svc := service.New(service.Config{
			ClientID: spec.ClientID, ClientSecret: spec.ClientSecret, Provisioning: spec.Provisioning,
			ShutdownTimeout: r.opts.ShutdownTimeout, StorageEngine: spec.StorageEngine, Logger: log,
			Admit: r.admitTask(spec.Name, log),
		})
		r.status.serving(spec.Name, svc.Ready)
		err := svc.Run(ctx, t)
		return svc.Ready(), err
	}

	if spec.Interval <= 0 {
		return false, errors.New("sync interval must be positive")
	}
	next := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ok, ctx.Err()
		case <-time.After(time.Until(next)):
		}
		r.status.queued(spec.Name)
		queued := time.Now()
		release, reserved, err := r.admit(ctx, spec.Name, func() { r.status.waitingForMemory(spec.Name) })
		if err != nil {
			return ok, err
		}
		start := time.Now()
		// Due again an interval after this start, not after this due
		// time: tenants due together (every tenant when serve starts)
		// would otherwise stay due together, and queue behind each other
		// every round. From the start, the next round keeps the order and
		// spacing the slots gave this one, and waits only when the work
		// outgrows the interval.
		next = start.Add(spec.Interval)
		r.status.running(spec.Name)
		r.opts.Metrics.waited(start.Sub(queued))
		log.Info("sync started", zap.Duration("waited", start.Sub(queued).Round(time.Millisecond)), zap.Int64("memory_reserved_mib", membudget.MiB(reserved)))
		err = t.Sync(ctx, localsync.Options{Path: spec.Output, OnProgress: newSyncProgress(log).update, StorageEngine: spec.StorageEngine})
		waits.Flush()
		if err != nil && ctx.Err() != nil {
			// Stopped mid-sync by a reload or shutdown: the sync did not
			// fail, and supervise will not restart the tenant.
			release(false)
			return ok, ctx.Err()
		}
		r.opts.Metrics.sync(spec.Name, time.Since(start), err)
		report()
		// An idle tenant keeps no guest instance: creating one from the
		// compiled module takes milliseconds, keeping it costs megabytes.
		t.ReleaseIdle(ctx)
		if err != nil {
			release(false)
			return ok, fmt.Errorf("sync into %s: %w", spec.Output, err)
		}
		ok = true
		r.status.succeeded(spec.Name, time.Now(), next)
		log.Info("sync complete", zap.String("file", spec.Output), zap.Duration("took", time.Since(start).Round(time.Millisecond)), zap.Time("next", next))
		// Only now, so that the sync's instances are gone and its end is
		// logged before the next sync starts.
		release(true)
	}
}
