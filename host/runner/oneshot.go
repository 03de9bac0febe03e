package runner

import (
	"context"
	"errors"
	"sync"

	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/waitlog"
)

// SyncOnce syncs each of tenants once into its Output, at most
// spec.MaxConcurrentSyncs at a time and within spec.ProcessMemoryMiB, with the modules of spec compiled once
// for all of them; spec.Tenants is not read, so that a caller can sync a
// chosen few. It returns each tenant's error (nil on success) by name: a
// module that is refused fails its own tenants only, and the others sync.
func SyncOnce(ctx context.Context, spec Spec, tenants []TenantSpec, logger *zap.Logger) map[string]error {
	r := New(Options{Logger: logger})
	defer r.syncs.close()
	r.syncs.setLimit(spec.MaxConcurrentSyncs)
	r.memory.SetLimit(int64(spec.ProcessMemoryMiB) << 20)
	out := map[string]error{}
	modules, failed := r.compileEach(ctx, spec)
	defer func() {
		for _, m := range modules {
			_ = m.module.Close(context.WithoutCancel(ctx))
		}
	}()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, spec := range tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := failed[spec.Module]
			if err == nil {
				err = r.syncOnce(ctx, spec, modules)
			}
			mu.Lock()
			out[spec.Name] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (r *Runner) syncOnce(ctx context.Context, spec TenantSpec, modules map[string]*compiled) error {
	m, ok := modules[spec.Module]
	if !ok {
		return errors.New("unknown module " + spec.Module)
	}
	if spec.Output == "" {
		return errors.New("tenant " + spec.Name + " has no sync output (it is in service mode)")
	}
	release, _, err := r.admit(ctx, spec.Name, func() { r.status.waitingForMemory(spec.Name) })
	if err != nil {
		return err
	}
	log := r.log.With(zap.String("tenant", spec.Name))
	waits := waitlog.New(log, progressInterval)
	t, err := r.newTenant(spec, m.module, log, waits)
	if err != nil {
		release(false)
		return err
	}
	defer t.Close(context.WithoutCancel(ctx))
	defer waits.Flush()
	err = t.Sync(ctx, localsync.Options{Path: spec.Output, OnProgress: newSyncProgress(log).update, StorageEngine: spec.StorageEngine})
	release(err == nil)
	return err
}
