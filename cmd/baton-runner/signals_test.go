package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestCtrlCExits130: Ctrl-C during a sync stops it with the shell's
// interrupted status, 130, and leaves the previous c1z as it was.
func TestCtrlCExits130(t *testing.T) {
	_, _, url := writableSim(t, 200, 20*time.Millisecond)
	p := start(t, []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + url, "BATON_PROGRESS_INTERVAL=1ns"}, "sync")
	prev := []byte("previous good sync")
	target := filepath.Join(p.cmd.Dir, "sync.c1z")
	if err := os.WriteFile(target, prev, 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "the sync to make progress", func() bool {
		return strings.Contains(p.stderr.String(), `"msg":"sync progress"`)
	})
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 60*time.Second); code != exitInterrupted {
		t.Errorf("exit %d after Ctrl-C, want %d:\n%s", code, exitInterrupted, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "interrupted") {
		t.Errorf("stderr does not say it was interrupted:\n%s", p.stderr)
	}
	if got, _ := os.ReadFile(target); string(got) != string(prev) {
		t.Error("the previous c1z was modified")
	}
}

// TestSIGTERMExits143: SIGTERM, what kill and orchestrators send, stops a
// one-shot sync as Ctrl-C does, with the shell's status for it, 143, and
// the previous c1z as it was.
func TestSIGTERMExits143(t *testing.T) {
	_, _, url := writableSim(t, 200, 20*time.Millisecond)
	p := start(t, []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + url, "BATON_PROGRESS_INTERVAL=1ns"}, "sync")
	prev := []byte("previous good sync")
	target := filepath.Join(p.cmd.Dir, "sync.c1z")
	if err := os.WriteFile(target, prev, 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "the sync to make progress", func() bool {
		return strings.Contains(p.stderr.String(), `"msg":"sync progress"`)
	})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 60*time.Second); code != exitTerminated {
		t.Errorf("exit %d after SIGTERM, want %d:\n%s", code, exitTerminated, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "baton-runner: terminated: ") || !strings.Contains(p.stderr.String(), "sync.c1z was not modified") {
		t.Errorf("stderr does not say it was terminated and the file kept:\n%s", p.stderr)
	}
	if got, _ := os.ReadFile(target); string(got) != string(prev) {
		t.Error("the previous c1z was modified")
	}
}

// TestDoubleCtrlCLeftoversGoWithTheNextSync: a second Ctrl-C exits at once,
// leaving the sync's unfinished files; the next sync of the same file
// removes them, and the c1z temporary file versions before the private
// directory left beside it (which no sweep matched).
func TestDoubleCtrlCLeftoversGoWithTheNextSync(t *testing.T) {
	_, _, slow := writableSim(t, 500, 20*time.Millisecond)
	p := start(t, []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + slow, "BATON_PROGRESS_INTERVAL=1ns"}, "sync")
	dir := p.cmd.Dir
	waitUntil(t, 60*time.Second, "the sync to make progress", func() bool {
		return strings.Contains(p.stderr.String(), `"msg":"sync progress"`)
	})
	for range 2 {
		if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := p.wait(t, 60*time.Second); code != exitInterrupted {
		t.Errorf("exit %d after two Ctrl-C, want %d:\n%s", code, exitInterrupted, p.stderr)
	}
	left := leftovers(t, dir)
	if len(left) == 0 {
		t.Log("the sync had cleaned up before the second Ctrl-C")
	}
	if err := os.WriteFile(filepath.Join(dir, ".sync.c1z.4242.partial.tmp"), []byte("an older version's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := run(t, dir, []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + simURL(t, 10)}, "sync"); res.code != 0 {
		t.Fatalf("the next sync exited %d: %s", res.code, res.stderr)
	}
	if after := leftovers(t, dir); len(after) != 0 {
		t.Errorf("after the next sync %v remain (the interrupted one left %v)", after, left)
	}
}

// leftovers lists what is in dir besides sync.c1z and its lock.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if n := e.Name(); n != "sync.c1z" && n != ".sync.c1z.lock" {
			out = append(out, n)
		}
	}
	return out
}
