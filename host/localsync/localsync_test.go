package localsync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/internal/connector"
)

var md = abi.Metadata{ABIVersion: abi.Version, DisplayName: "t", ResourceTypes: []abi.ResourceType{
	{ID: "user", DisplayName: "User", Traits: []abi.Trait{abi.TraitUser}},
}}

// guestFunc is a fake guest: f answers list calls, validate succeeds.
type guestFunc struct {
	calls atomic.Int64
	f     func(ctx context.Context) ([]byte, error)
}

func (g *guestFunc) Call(ctx context.Context, export string, _ []byte, _ abi.Session) ([]byte, error) {
	g.calls.Add(1)
	if export == abi.ExportValidate {
		return []byte(`{"ok": {}}`), nil
	}
	return g.f(ctx)
}

// onePage lists one user.
func onePage(context.Context) ([]byte, error) {
	b, _ := json.Marshal(abi.Result[abi.ResourcePage]{OK: &abi.ResourcePage{Resources: []abi.Resource{
		{ID: abi.ResourceID{Type: "user", ID: "u1"}, DisplayName: "u"}}}})
	return b, nil
}

// run syncs the fake guest into opts.Path with the connector's limits l,
// as tenant.Sync does.
func run(t *testing.T, g *guestFunc, l synclimits.Limits, opts localsync.Options) error {
	t.Helper()
	disk := &synclimits.Disk{}
	c := connector.New(g, md, nil, connector.WithLimits(l))
	cc, err := connector.NewClient(context.Background(), c, connector.ClientOptions{Disk: disk})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	opts.Disk = disk
	if opts.Limits == (synclimits.Limits{}) {
		opts.Limits = l
	}
	return localsync.Run(context.Background(), cc, opts)
}

func writeOld(t *testing.T, path string) []byte {
	t.Helper()
	old := []byte("the previous sync")
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	return old
}

func unchanged(t *testing.T, path string, old []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, old) {
		t.Errorf("the previous c1z changed: %q, %v", got, err)
	}
}

// sideFiles lists what a sync left beside the target, apart from the
// target and its lock.
func sideFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if n := e.Name(); n != "s.c1z" && n != ".s.c1z.lock" {
			out = append(out, n)
		}
	}
	return out
}

func TestSuccessReplacesTheTargetAndLeavesNothingBehind(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.c1z")
	writeOld(t, path)
	if err := run(t, &guestFunc{f: onePage}, synclimits.Limits{}, localsync.Options{Path: path}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || bytes.Equal(b, []byte("the previous sync")) {
		t.Errorf("target not replaced: %v", err)
	}
	if left := sideFiles(t, dir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestLeftoversOfAKilledSyncAreSwept(t *testing.T) {
	for name, inTmp := range map[string]bool{"beside the target": false, "in a temp dir": true} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "out")
			path := filepath.Join(dir, "s.c1z")
			dirs, tmp := []string{dir}, ""
			if inTmp {
				tmp = filepath.Join(root, "tmp")
				dirs = append(dirs, tmp)
			}
			mustWrite := func(p string) {
				t.Helper()
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, d := range dirs {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// A sync killed mid-way leaves what it has while it runs…
			running := map[string][]string{}
			var once sync.Once
			g := &guestFunc{f: func(ctx context.Context) ([]byte, error) {
				once.Do(func() {
					for _, d := range dirs {
						running[d] = sideFiles(t, d)
					}
				})
				return onePage(ctx)
			}}
			if err := run(t, g, synclimits.Limits{}, localsync.Options{Path: path, TmpDir: tmp}); err != nil {
				t.Fatal(err)
			}
			if len(running[dir])+len(running[tmp]) == 0 {
				t.Fatal("the sync had no side files")
			}
			for d, ns := range running {
				for _, n := range ns {
					mustWrite(filepath.Join(d, n, "db", "000001.sst"))
				}
			}
			// …or, written by a version that put the c1z itself at the
			// partial name, its partial file and baton-sdk's temporary
			// file of it…
			mustWrite(filepath.Join(dir, ".s.c1z.123456.partial"))
			mustWrite(filepath.Join(dir, ".s.c1z.123456.partial.tmp"))
			// …and there are files that are not its own: another
			// target's working directory, and lookalikes.
			keep := []string{".s.c1z.0123456789abcdef.12.work", ".s.c1z.123.partial.bak", ".s.c1z.123.tmp", ".s.c1z.abc.partial", ".s.c1z.x.123.partial", ".s.c1z.x.123.partial.tmp", "s.c1z.x"}
			mustWrite(filepath.Join(dir, keep[0], "db", "000001.sst"))
			for _, n := range keep[1:] {
				mustWrite(filepath.Join(dir, n))
			}
			// In a temp dir, a partial file is that of the temp dir's own
			// s.c1z.
			if inTmp {
				mustWrite(filepath.Join(tmp, ".s.c1z.1234.partial"))
			}
			if err := run(t, &guestFunc{f: onePage}, synclimits.Limits{}, localsync.Options{Path: path, TmpDir: tmp}); err != nil {
				t.Fatal(err)
			}
			if left := sideFiles(t, dir); !slices.Equal(left, keep) {
				t.Errorf("after the sync: %v, want only %v, which are not s.c1z's", left, keep)
			}
			if inTmp {
				if left := sideFiles(t, tmp); !slices.Equal(left, []string{".s.c1z.1234.partial"}) {
					t.Errorf("after the sync the temp dir holds %v, want only the partial file of its own s.c1z", left)
				}
			}
		})
	}
}

// names lists the entries of dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Error(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestTargetsSharingADirectoryKeepEachOthersWork: two targets of the same
// name whose working directories share a directory, the temp dir of both
// or one's own directory as the other's temp dir, sync at once; neither
// removes what the other is using.
func TestTargetsSharingADirectoryKeepEachOthersWork(t *testing.T) {
	for name, tmpDirs := range map[string]func(root string) (a, b string){
		"shared temp dir":              func(root string) (string, string) { return filepath.Join(root, "tmp"), filepath.Join(root, "tmp") },
		"the other target's directory": func(root string) (string, string) { return filepath.Join(root, "b"), "" },
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			a, b := filepath.Join(root, "a", "s.c1z"), filepath.Join(root, "b", "s.c1z")
			tmpA, tmpB := tmpDirs(root)
			if err := os.MkdirAll(tmpA, 0o755); err != nil {
				t.Fatal(err)
			}
			// While a's sync runs, b's runs from start to end.
			var inUse, afterB []string
			var errB error
			var once sync.Once
			g := &guestFunc{f: func(ctx context.Context) ([]byte, error) {
				once.Do(func() {
					inUse = names(t, tmpA)
					errB = run(t, &guestFunc{f: onePage}, synclimits.Limits{}, localsync.Options{Path: b, TmpDir: tmpB})
					afterB = names(t, tmpA)
				})
				return onePage(ctx)
			}}
			if err := run(t, g, synclimits.Limits{}, localsync.Options{Path: a, TmpDir: tmpA}); err != nil {
				t.Errorf("a: %v", err)
			}
			if errB != nil {
				t.Errorf("b: %v", errB)
			}
			if len(inUse) == 0 {
				t.Fatal("a's sync has nothing in its temp dir")
			}
			for _, n := range inUse {
				if !slices.Contains(afterB, n) {
					t.Errorf("b's sync removed %s, in use by a's: %v before, %v after", n, inUse, afterB)
				}
			}
			for _, p := range []string{a, b} {
				if _, err := os.Stat(p); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestAHeldLockRefusesASecondSync(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.c1z")
	old := writeOld(t, path)
	// Another sync of the same target holds the lock.
	f, err := os.OpenFile(filepath.Join(dir, ".s.c1z.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	// Its partial file is in use: the refused sync must not sweep it.
	partial := filepath.Join(dir, ".s.c1z.42.partial")
	if err := os.WriteFile(partial, []byte("in use"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &guestFunc{f: onePage}
	start := time.Now()
	err = run(t, g, synclimits.Limits{}, localsync.Options{Path: path})
	if err == nil || !strings.Contains(err.Error(), "another sync is writing "+path) {
		t.Fatalf("err = %v", err)
	}
	if g.calls.Load() != 0 || time.Since(start) > 5*time.Second {
		t.Errorf("the refused sync called the guest %d times / took %s", g.calls.Load(), time.Since(start))
	}
	if _, err := os.Stat(partial); err != nil {
		t.Errorf("the running sync's partial file was removed: %v", err)
	}
	unchanged(t, path, old)
	// Once the lock is released the next sync runs.
	_ = f.Close()
	if err := run(t, g, synclimits.Limits{}, localsync.Options{Path: path}); err != nil {
		t.Fatal(err)
	}
}

func TestBadTargetsFailBeforeTheSync(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ path, want string }{
		"empty":             {"", "no output file given"},
		"a directory":       {dir, "is a directory"},
		"parent is a file":  {filepath.Join(file, "s.c1z"), "cannot create the directory of the sync output " + filepath.Join(file, "s.c1z")},
		"parent unwritable": {unwritableDir(t) + "/s.c1z", "choose a writable directory"},
	} {
		t.Run(name, func(t *testing.T) {
			if strings.HasPrefix(tc.path, "SKIP") {
				t.Skip(tc.path)
			}
			g := &guestFunc{f: onePage}
			err := run(t, g, synclimits.Limits{}, localsync.Options{Path: tc.path})
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.path != "" && !strings.Contains(err.Error(), tc.path)) {
				t.Fatalf("err = %v, want it to name %q and say %q", err, tc.path, tc.want)
			}
			if g.calls.Load() != 0 {
				t.Errorf("the guest was called %d times before the target was refused", g.calls.Load())
			}
		})
	}
}

// unwritableDir returns a directory this process cannot create files in:
// a read-only one, or (as root, who ignores permissions) /sys when it
// refuses; "SKIP…" when there is none.
func unwritableDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, "/sys"} {
		probe := filepath.Join(d, ".baton-runner-probe")
		f, err := os.Create(probe)
		if err != nil {
			if d == dir || os.IsPermission(err) {
				return d
			}
			continue
		}
		_ = f.Close()
		_ = os.Remove(probe)
	}
	return "SKIP: running as root with no unwritable directory"
}

func TestAMissingParentIsCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "dir", "s.c1z")
	if err := run(t, &guestFunc{f: onePage}, synclimits.Limits{}, localsync.Options{Path: path}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

func TestWallTimeEndsTheSyncNamingSyncTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	dir := t.TempDir()
	path := filepath.Join(dir, "s.c1z")
	old := writeOld(t, path)
	// A guest that waits until it is stopped.
	g := &guestFunc{f: func(ctx context.Context) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	start := time.Now()
	// The connector's own clock is not what stops it here: only Run's.
	err := run(t, g, synclimits.Limits{}, localsync.Options{Path: path, Limits: synclimits.Limits{Timeout: timeout}})
	elapsed := time.Since(start)
	var le *synclimits.Error
	if !errors.As(err, &le) || le.Key != "sync_timeout" || !strings.Contains(err.Error(), "--sync-timeout") {
		t.Fatalf("err = %v, want sync_timeout", err)
	}
	if elapsed > timeout+10*time.Second {
		t.Errorf("the sync ended %s after it started, its timeout is %s", elapsed, timeout)
	}
	unchanged(t, path, old)
	if left := sideFiles(t, dir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestEmptyPagesEndTheSyncNamingMaxEmptyPages: the limit the connector
// finds reaches Run's caller through baton-sdk's gRPC client as the
// *synclimits.Error it was.
func TestEmptyPagesEndTheSyncNamingMaxEmptyPages(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.c1z")
	old := writeOld(t, path)
	// Nothing on every page, and a fresh token: paging without end.
	var pages atomic.Int64
	g := &guestFunc{f: func(context.Context) ([]byte, error) {
		return json.Marshal(abi.Result[abi.ResourcePage]{OK: &abi.ResourcePage{NextPageToken: fmt.Sprint("p", pages.Add(1))}})
	}}
	// max_pages, far above the default max_empty_pages, was all that
	// stopped such a guest.
	err := run(t, g, synclimits.Limits{MaxPages: 10 * synclimits.DefaultMaxEmptyPages}, localsync.Options{Path: path})
	var le *synclimits.Error
	if !errors.As(err, &le) || le.Key != "max_empty_pages" || !strings.Contains(err.Error(), "--max-empty-pages") {
		t.Fatalf("err = %v, want max_empty_pages", err)
	}
	if n := pages.Load(); n != synclimits.DefaultMaxEmptyPages+1 {
		t.Errorf("the guest listed %d pages, want %d", n, synclimits.DefaultMaxEmptyPages+1)
	}
	unchanged(t, path, old)
}

func TestDiskLimitEndsTheSyncNamingMaxC1ZMiB(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.c1z")
	old := writeOld(t, path)
	// The store's first files are over a one-byte limit.
	err := run(t, &guestFunc{f: onePage}, synclimits.Limits{MaxC1ZBytes: 1}, localsync.Options{Path: path})
	if err == nil || !strings.Contains(err.Error(), "sync exceeded max_c1z_mib") || !strings.Contains(err.Error(), "--max-c1z-mib") {
		t.Fatalf("err = %v, want max_c1z_mib", err)
	}
	unchanged(t, path, old)
}
