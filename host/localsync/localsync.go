// Package localsync runs one full sync of a connector into a c1z file with
// baton-sdk's syncer, replacing the file only when the sync succeeds.
//
// Beside a target "<dir>/<name>" a sync keeps, while it runs:
//
//	.<name>.lock            flock'ed for the whole sync; never removed
//	.<name>.<digits>.partial/  a directory of our own (0700) where the new
//	                        c1z is written, renamed from there over <name>
//	                        on success
//	.<name>.<id>.<digits>.work/  baton-sdk's working files (its store), here
//	                        or in Options.TmpDir
//
// The c1z is not written at a name beside the target: in a directory
// other users can write to, one of them could take that name first, as a
// symlink that baton-sdk would write through.
//
// A process killed mid-sync (a second Ctrl-C, SIGKILL) leaves the last two
// behind; the next sync of the target, holding the lock, removes them, and
// what versions before the directory left beside the target: the c1z
// itself at the .partial name and baton-sdk's .partial.tmp of it. The id, a hash of the
// target's path, keeps it from removing those of another target whose
// working directories share the directory.
package localsync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	"github.com/conductorone/baton-sdk/pkg/dotc1z/c1zstore"
	"github.com/conductorone/baton-sdk/pkg/sync"
	"github.com/conductorone/baton-sdk/pkg/types"

	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/internal/rpcerr"
)

// Progress reports one page of sync work: the syncer's phase
// ("list-resources", "list-entitlements", "list-grants", …), the resource
// type, and how many items the page held.
type Progress = sync.Progress

// Options configures Run.
type Options struct {
	// Path is the c1z to write. It is replaced atomically on success and
	// left untouched on failure. A missing parent directory is created.
	Path string
	// TmpDir, if set, holds the sync's working directory instead of the
	// target's directory (benchmarks put it on a faster disk). Targets
	// may share one.
	TmpDir string
	// OnProgress, if set, is called after every page the syncer stores.
	OnProgress func(*Progress)
	// ResourceTypes, if set, limits the sync to resources of these type
	// IDs (baton-sdk's --sync-resource-types).
	ResourceTypes []string
	// SkipEntitlementsAndGrants syncs resources only (baton-sdk's
	// --skip-entitlements-and-grants).
	SkipEntitlementsAndGrants bool
	// Limits bound the sync; Run enforces the wall time (Timeout), the
	// connector the rest. Zero fields take synclimits' defaults.
	Limits synclimits.Limits
	// Disk, if set, is told where the sync's files are, so the connector's
	// tracker can hold them to Limits.MaxC1ZBytes.
	Disk *synclimits.Disk
	// Targets, if set, makes the sync a targeted one (baton-sdk's partial
	// sync, --sync-resources): only these resources are read again, one
	// by one through the connector's Get, with their entitlements and
	// grants. The new file holds just that partial sync (and the
	// targets' parents): callers must not point it at a full sync's file
	// they mean to keep.
	Targets []*v2.Resource
	// Workers is how many calls the syncer makes at once (baton-sdk's
	// sync workers); zero means one, a sequential sync.
	Workers int
	// StorageEngine is the c1z storage engine the sync writes with
	// (baton-sdk's --storage-engine); empty means DefaultStorageEngine.
	// Readers (inspect, provisioning, ConductorOne) read either.
	StorageEngine c1zstore.Engine
	// OnCollected, if set, is called when the syncer has read everything
	// it reads from the connector and grant expansion starts: a caller
	// releases there what only served the connector's calls (a guest's
	// instances), before the store's memory-heavy end. The syncer may
	// still call the connector afterwards (its Cleanup).
	OnCollected func()
}

// Run syncs everything cc exposes into a new c1z at opts.Path. It checks
// the target before the sync starts, holds the target's lock throughout
// (a second sync of the same target fails at once), and ends the sync with
// a sync_timeout error once its wall time runs out.
func Run(ctx context.Context, cc types.ConnectorClient, opts Options) error {
	t, err := prepare(opts.Path)
	if err != nil {
		return err
	}
	defer t.unlock()

	workParent := t.dir
	if opts.TmpDir != "" {
		workParent = opts.TmpDir
		t.sweep(workParent)
	}
	work, err := os.MkdirTemp(workParent, t.workPattern())
	if err != nil {
		return fmt.Errorf("cannot create the sync's working directory in %s: %w", workParent, err)
	}
	defer func() { _ = os.RemoveAll(work) }()
	// The new file is written beside the target so the final rename is
	// atomic (same filesystem) and a crash leaves the old file in place.
	scratch, err := t.scratch()
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(scratch) }()
	// A fresh path: baton-sdk would resume an existing c1z.
	tmpPath := filepath.Join(scratch, t.name)
	if opts.Disk != nil {
		opts.Disk.Watch(work, scratch)
	}

	syncCtx := ctx
	limits := opts.Limits.WithDefaults()
	if limits.Timeout > 0 {
		var cancel context.CancelFunc
		syncCtx, cancel = context.WithTimeoutCause(ctx, limits.Timeout, &synclimits.Error{
			Key: "sync_timeout", Detail: fmt.Sprintf("wall time of %s", limits.Timeout)})
		defer cancel()
	}

	// timedOut returns the sync_timeout error once the wall time ran out,
	// whatever error that caused on its way out.
	timedOut := func() error {
		var limitErr *synclimits.Error
		if syncCtx.Err() != nil && errors.As(context.Cause(syncCtx), &limitErr) {
			return limitErr
		}
		return nil
	}
	engine := opts.StorageEngine
	if engine == "" {
		engine = DefaultStorageEngine
	}
	// The store is opened here rather than by the syncer (WithC1ZPath)
	// so that it gets storeOptions; the syncer closes it either way.
	store, err := dotc1z.NewStore(syncCtx, tmpPath, storeOptions(engine, work)...)
	if err != nil {
		if limitErr := timedOut(); limitErr != nil {
			return limitErr
		}
		return fmt.Errorf("creating the sync's %s c1z store in %s: %w", engine, work, err)
	}
	syncOpts := []sync.SyncOpt{sync.WithConnectorStore(store), sync.WithTmpDir(work), sync.WithWorkerCount(max(1, opts.Workers))}
	x := newExpansion(engine, opts.OnCollected)
	defer x.release()
	syncCtx = x.watch(syncCtx, false)
	syncOpts = append(syncOpts, sync.WithTransitionHandler(func(a sync.Action) {
		if a.Op == sync.SyncGrantExpansionOp {
			x.starts()
		}
	}))
	if opts.OnProgress != nil {
		syncOpts = append(syncOpts, sync.WithProgressHandler(opts.OnProgress))
	}
	if len(opts.Targets) > 0 {
		syncOpts = append(syncOpts, sync.WithTargetedSyncResources(opts.Targets))
	}
	if len(opts.ResourceTypes) > 0 {
		syncOpts = append(syncOpts, sync.WithSyncResourceTypes(opts.ResourceTypes))
	}
	if opts.SkipEntitlementsAndGrants {
		syncOpts = append(syncOpts, sync.WithSkipEntitlementsAndGrants(true))
	}
	syncer, err := sync.NewSyncer(syncCtx, cc, syncOpts...)
	if err != nil {
		_ = store.Close(context.WithoutCancel(ctx))
		if limitErr := timedOut(); limitErr != nil {
			return limitErr
		}
		return fmt.Errorf("starting sync: %w", err)
	}
	syncErr := syncer.Sync(syncCtx)
	// Closing writes (or, after a failure, releases) the local store:
	// bounded local work that must not be cut short by the deadline.
	closeErr := syncer.Close(context.WithoutCancel(ctx))
	if limitErr := timedOut(); limitErr != nil {
		return limitErr
	}
	if syncErr != nil {
		if cause := context.Cause(ctx); cause != nil {
			// The caller gave up: baton-sdk reports it as a Canceled
			// status, which errors.Is(err, context.Canceled) would miss.
			return fmt.Errorf("%w: %w", cause, syncErr)
		}
		return limitFirst(syncErr)
	}
	if closeErr != nil {
		return fmt.Errorf("writing %s: %w", opts.Path, closeErr)
	}
	if err := os.Rename(tmpPath, opts.Path); err != nil {
		return fmt.Errorf("replacing %s: %w", opts.Path, err)
	}
	return nil
}

// Names of a target's side files; the random part os.CreateTemp and
// os.MkdirTemp put in place of "*" is decimal digits.
const (
	partialSuffix = ".partial"
	workSuffix    = ".work"
)

// limitFirst puts a whole-sync limit that ended the sync at the front of
// the error: it comes back from the connector inside baton-sdk's wrapping
// ("sync-grants-for-resource: error listing grants: rpc error: …"), as the
// ErrorInfo of a status only the host makes (rpcerr.LimitStatus). The
// gRPC status stays reachable.
func limitFirst(err error) error {
	limit := rpcerr.Limit(err)
	if limit == nil {
		return err
	}
	return &limitReport{err: err, limit: limit}
}

// limitReport is the error of a sync a limit ended: its text is the
// limit's, and errors.As finds the *synclimits.Error the connector sent
// as well as the status chain.
type limitReport struct {
	err   error
	limit *synclimits.Error
}

func (e *limitReport) Error() string   { return e.limit.Error() }
func (e *limitReport) Unwrap() []error { return []error{e.limit, e.err} }
