// Package localsync runs one full sync of a connector into a c1z file with
// baton-sdk's syncer, replacing the file only when the sync succeeds.
package localsync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/conductorone/baton-sdk/pkg/sync"
	"github.com/conductorone/baton-sdk/pkg/types"
)

// Progress reports one page of sync work: the syncer's phase
// ("list-resources", "list-entitlements", "list-grants", …), the resource
// type, and how many items the page held.
type Progress = sync.Progress

// Options configures Run.
type Options struct {
	// Path is the c1z to write. It is replaced atomically on success and
	// left untouched on failure.
	Path string
	// TmpDir holds baton-sdk's scratch files; "" uses the system default.
	TmpDir string
	// OnProgress, if set, is called after every page the syncer stores.
	OnProgress func(*Progress)
}

// Run syncs everything cc exposes into a new c1z at opts.Path.
func Run(ctx context.Context, cc types.ConnectorClient, opts Options) (err error) {
	if opts.Path == "" {
		return errors.New("no output file given (--file)")
	}
	dir := filepath.Dir(opts.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", dir, err)
	}
	// The new file is written beside the target so the final rename is
	// atomic (same filesystem) and a crash leaves the old file in place.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(opts.Path)+".*.partial")
	if err != nil {
		return fmt.Errorf("cannot write to %s: %w", dir, err)
	}
	tmpPath := tmp.Name()
	_ = tmp.Close()
	// baton-sdk opens an existing c1z to resume it; it must start empty.
	if err := os.Remove(tmpPath); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmpPath)
		}
	}()

	syncOpts := []sync.SyncOpt{sync.WithC1ZPath(tmpPath)}
	if opts.TmpDir != "" {
		syncOpts = append(syncOpts, sync.WithTmpDir(opts.TmpDir))
	}
	if opts.OnProgress != nil {
		syncOpts = append(syncOpts, sync.WithProgressHandler(opts.OnProgress))
	}
	syncer, err := sync.NewSyncer(ctx, cc, syncOpts...)
	if err != nil {
		return fmt.Errorf("starting sync: %w", err)
	}
	syncErr := syncer.Sync(ctx)
	closeErr := syncer.Close(ctx)
	if syncErr != nil {
		return syncErr
	}
	if closeErr != nil {
		return fmt.Errorf("writing %s: %w", opts.Path, closeErr)
	}
	if err := os.Rename(tmpPath, opts.Path); err != nil {
		return fmt.Errorf("replacing %s: %w", opts.Path, err)
	}
	return nil
}
