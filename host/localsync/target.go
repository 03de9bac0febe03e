package localsync

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// target is a sync's output file, checked and locked.
type target struct {
	dir, name string
	// id is in the names of the target's working directories, which may
	// share a directory with other targets' (a common TmpDir, or another
	// target's own directory): a sweep removes only its own target's.
	id string
	// unlock releases the lock. The lock file stays: removing it would
	// let a sync waiting on the old inode and one on a new file run at
	// once.
	unlock func()
}

// prepare checks path before any sync work starts, so a bad --file fails
// in a second rather than after hours of syncing, takes the target's
// lock, and removes what a killed sync of the target left behind.
func prepare(path string) (*target, error) {
	if path == "" {
		return nil, errors.New("no output file given (--file)")
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("the sync output %s is a directory: give the path of a .c1z file to write, e.g. %s",
			path, filepath.Join(path, "sync.c1z"))
	}
	t := &target{dir: filepath.Dir(path), name: filepath.Base(path)}
	// A missing directory is created, as tools that write a file usually
	// do: a runner.toml output on a fresh volume should just work.
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the directory of the sync output %s: %w; create it or choose another path", path, err)
	}
	release, err := Lock(t.lockPath())
	switch {
	case errors.Is(err, ErrLocked):
		return nil, fmt.Errorf("another sync is writing %s (it holds %s): wait for it to finish or choose another output",
			path, t.lockPath())
	case err != nil:
		return nil, fmt.Errorf("cannot write in %s, the directory of the sync output %s: %w; choose a writable directory or fix its permissions",
			t.dir, path, err)
	}
	t.unlock = release
	t.id = targetID(t.dir, t.name)
	t.sweep(t.dir)
	return t, nil
}

// targetID hashes the target's absolute path with symlinks resolved, so
// that every spelling of a target finds its leftovers. A path that cannot
// be resolved keeps its spelling: the id then misses only the leftovers
// of the target's other spellings.
func targetID(dir, name string) string {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	sum := sha256.Sum256([]byte(filepath.Join(dir, name)))
	return hex.EncodeToString(sum[:8])
}

func (t *target) lockPath() string { return filepath.Join(t.dir, "."+t.name+".lock") }

// workPattern is the os.MkdirTemp pattern of the target's working
// directories.
func (t *target) workPattern() string { return "." + t.name + "." + t.id + ".*" + workSuffix }

// scratch creates the directory the new c1z is written in, beside the
// target, and checks that it is a directory of this user's that no one
// else can enter: nothing another user put there can be written through.
func (t *target) scratch() (string, error) {
	dir, err := os.MkdirTemp(t.dir, "."+t.name+".*"+partialSuffix)
	if err != nil {
		return "", fmt.Errorf("cannot write to %s: %w", t.dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("cannot write to %s: %w", t.dir, err)
	}
	if !private(fi) {
		return "", fmt.Errorf("%s, just made for the new c1z, is not this user's alone (mode %s): another user replaced it, "+
			"or %s is on a filesystem without Unix owners and modes; write the output to another directory", dir, fi.Mode(), t.dir)
	}
	return dir, nil
}

// sweep removes this target's leftovers in dir: its working directories,
// and its partial directories when dir is the target's own, the only one
// they are made in (elsewhere such a name is another target's).
// Only the lock holder calls it, so none is in use.
func (t *target) sweep(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if t.isWork(e) || (dir == t.dir && t.isPartial(e)) {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// isWork reports whether e is one of this target's working directories,
// ".<name>.<id>.<digits>.work".
func (t *target) isWork(e fs.DirEntry) bool {
	rest, ok := strings.CutPrefix(e.Name(), "."+t.name+"."+t.id+".")
	return ok && e.IsDir() && digitsThen(rest, workSuffix)
}

// isPartial reports whether e is one of this target's partial
// directories, ".<name>.<digits>.partial"; of any type, as versions
// before them wrote the c1z itself at such a name, and baton-sdk, while
// closing it, ".<name>.<digits>.partial.tmp" beside it, which a process
// killed then left (now the ".tmp" is inside the directory).
func (t *target) isPartial(e fs.DirEntry) bool {
	rest, ok := strings.CutPrefix(e.Name(), "."+t.name+".")
	return ok && digitsThen(strings.TrimSuffix(rest, ".tmp"), partialSuffix)
}

// digitsThen reports whether s is decimal digits followed by suffix.
// Requiring digits keeps the side files of a target named "<name>.x" out
// of those of "<name>".
func digitsThen(s, suffix string) bool {
	digits, ok := strings.CutSuffix(s, suffix)
	return ok && digits != "" && strings.Trim(digits, "0123456789") == ""
}

// ErrLocked is Lock's error when another holder has the lock.
var ErrLocked = errors.New("locked by another process")

// Lock takes an exclusive lock on the file at path (created if missing)
// without waiting, until release is called or the process ends, however
// it ends. It fails at once, with ErrLocked, if another holder has it.
func Lock(path string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := flock(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { _ = f.Close() }, nil
}
