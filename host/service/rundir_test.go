package service

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/host/localsync"
)

func TestRunDirSweepsDeadRunsOnly(t *testing.T) {
	base := t.TempDir()
	old := time.Now().Add(-2 * runDirGrace)
	mk := func(name string) string {
		t.Helper()
		d := filepath.Join(base, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "baton-sdk-sync-upload123"), []byte("c1z"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
		return d
	}
	dead := mk(runDirPrefix + "1")
	live := mk(runDirPrefix + "2")
	unlock, err := localsync.Lock(filepath.Join(live, ".lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	fresh := mk(runDirPrefix + "3")
	if err := os.Chtimes(fresh, time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	other := mk("someone-else")

	dir, release, err := runDir(base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("a dead Run's directory was kept: %v", err)
	}
	for _, d := range []string{live, fresh, other, dir} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	// A second Run does not take this one's directory.
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
	dir2, release2, err := runDir(base)
	if err != nil {
		t.Fatal(err)
	}
	defer release2()
	if _, err := os.Stat(dir); err != nil || dir2 == dir {
		t.Errorf("a live Run's directory was swept or reused: %v", err)
	}
	release()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("release left %s: %v", dir, err)
	}
}
