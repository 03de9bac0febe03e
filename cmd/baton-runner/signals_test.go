package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestSignalsStopASyncKeepingTheFile: Ctrl-C (SIGINT) and SIGTERM, what
// kill and orchestrators send, stop a one-shot sync with the shell's
// status for each (130, 143), say so, and leave the previous c1z as it was.
func TestSignalsStopASyncKeepingTheFile(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		says []string
	}{
		{syscall.SIGINT, exitInterrupted, []string{"interrupted"}},
		{syscall.SIGTERM, exitTerminated, []string{"baton-runner: terminated: ", "sync.c1z was not modified"}},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
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
			if err := p.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			if code := p.wait(t, 60*time.Second); code != tc.code {
				t.Errorf("exit %d after %s, want %d:\n%s", code, tc.sig, tc.code, p.stderr)
			}
			for _, want := range tc.says {
				if !strings.Contains(p.stderr.String(), want) {
					t.Errorf("stderr does not say %q:\n%s", want, p.stderr)
				}
			}
			if got, _ := os.ReadFile(target); string(got) != string(prev) {
				t.Error("the previous c1z was modified")
			}
		})
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
		// The first may already have ended the sync (then it cleaned up,
		// and there is nothing left for the next one to remove).
		if err := p.cmd.Process.Signal(syscall.SIGINT); errors.Is(err, os.ErrProcessDone) {
			break
		} else if err != nil {
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
