//go:build linux

package localsync_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/synclimits"
)

// created returns the names inotify reported created in the directory fd
// watches since the last call.
func created(t *testing.T, fd int) []string {
	t.Helper()
	var out []string
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.Read(fd, buf)
		if errors.Is(err, syscall.EAGAIN) {
			return out
		}
		if err != nil {
			t.Error(err)
			return out
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			size := int(binary.NativeEndian.Uint32(buf[off+12:])) // InotifyEvent.Len
			name := buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+size]
			out = append(out, strings.TrimRight(string(name), "\x00"))
			off += syscall.SizeofInotifyEvent + size
		}
	}
}

// TestPlantedSymlinksAreNotFollowed: another user of a shared output
// directory watches the names the sync creates there and, while it runs,
// plants a symlink to a file of their choice at every such name that is
// free again and at the name baton-sdk writes the c1z through before its
// rename (<name>.tmp). The sync must write neither through them nor leave
// the output a symlink.
func TestPlantedSymlinksAreNotFollowed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.c1z")
	victim := filepath.Join(t.TempDir(), "victim")
	precious := []byte("not the sync's to write")
	if err := os.WriteFile(victim, precious, 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_CREATE|syscall.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	var planted []string
	var once sync.Once
	g := &guestFunc{f: func(ctx context.Context) ([]byte, error) {
		once.Do(func() {
			for _, n := range created(t, fd) {
				for _, p := range []string{n, n + ".tmp"} {
					// Symlink fails on a taken name, as it would for
					// another user in a sticky directory.
					if os.Symlink(victim, filepath.Join(dir, p)) == nil {
						planted = append(planted, p)
					}
				}
			}
		})
		return onePage(ctx)
	}}
	if err := run(t, g, synclimits.Limits{}, localsync.Options{Path: path}); err != nil {
		t.Fatal(err)
	}
	if len(planted) == 0 {
		t.Fatal("saw no names to plant at")
	}
	if got, _ := os.ReadFile(victim); !bytes.Equal(got, precious) {
		t.Errorf("the sync wrote through a symlink planted at one of %v", planted)
	}
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		t.Errorf("the output is not a c1z of its own: %v", err)
		if err == nil {
			t.Errorf("mode %s, %d bytes", fi.Mode(), fi.Size())
		}
	}
}
