package synclimits

import (
	"io/fs"
	"path/filepath"
	"slices"
	"sync"
)

// Disk measures the disk a sync's files take: the sum of the sizes of the
// regular files at or below the paths it watches. Whoever creates the
// files (localsync, service mode) tells it where they are; the tracker
// probes it while the sync runs. It is safe for concurrent use.
type Disk struct {
	mu    sync.Mutex
	paths []string
}

// Watch adds paths (files or directories, which need not exist yet).
func (d *Disk) Watch(paths ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.paths = append(d.paths, paths...)
}

// Usage returns the bytes the watched files take now. Files that vanish
// while it walks (a store compacting) are skipped, not errors.
func (d *Disk) Usage() int64 {
	d.mu.Lock()
	paths := slices.Clone(d.paths)
	d.mu.Unlock()
	var total int64
	for _, p := range paths {
		_ = filepath.WalkDir(p, func(_ string, e fs.DirEntry, err error) error {
			if err != nil || !e.Type().IsRegular() {
				return nil
			}
			if info, err := e.Info(); err == nil {
				total += info.Size()
			}
			return nil
		})
	}
	return total
}
