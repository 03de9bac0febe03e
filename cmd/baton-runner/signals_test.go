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
