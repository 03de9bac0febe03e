package main

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestSyncReportsProgressWaitsAndSummary: a sync whose stderr is not a
// terminal logs its progress at each phase (and every --progress-interval),
// a line for a rate-limit wait of several seconds, told before it is made,
// and ends with a summary of what it stored, its requests, retries and
// waits.
func TestSyncReportsProgressWaitsAndSummary(t *testing.T) {
	sim := segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(40)), segmentsim.Options{})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	// One 429 asking for a wait over egress.NotableWait (3s).
	sim.InjectRateLimit("GET", "/users", 1, 3200)
	res := run(t, t.TempDir(), nil, "sync", "--base-url", ts.URL, "--token", segmentsim.DefaultToken,
		"--log-format", "json", "--progress-interval", "1ns")
	if res.code != 0 {
		t.Fatalf("sync exited %d: %s", res.code, res.stderr)
	}
	var phases []string
	var held []map[string]any
	var complete map[string]any
	for _, line := range strings.Split(res.stderr, "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch l["msg"] {
		case "sync progress":
			if p, _ := l["phase"].(string); len(phases) == 0 || phases[len(phases)-1] != p {
				phases = append(phases, p)
			}
		case "requests held by rate limits":
			held = append(held, l)
		case "sync complete":
			complete = l
		}
	}
	if strings.Join(phases, ",") != "resources,entitlements,grants" {
		t.Errorf("progress phases %v, want resources, entitlements, grants in order", phases)
	}
	// The line comes as the wait begins, naming it; the tenant's other
	// requests held with it are counted in the next line, if they add up
	// to another 3s, which they do not.
	if len(held) != 1 || held[0]["requests"] != float64(1) || held[0]["held_for"] != 3.2 {
		t.Errorf("held lines %v; want one for the 3.2s the 429 holds the sync", held)
	} else if reasons, _ := held[0]["reasons"].(map[string]any); reasons["rate limited by the API (HTTP 429)"] != float64(1) {
		t.Errorf("held line %v does not give the 429 as the reason", held[0])
	}
	// The simulator counts HTTP attempts: each request plus its retries.
	if complete == nil || complete["requests"] != float64(sim.RequestCount()-1) || complete["retries"] != float64(1) {
		t.Errorf("sync complete = %v; want %d requests, 1 retry", complete, sim.RequestCount()-1)
	}
	// About the 429's 3.2 s: the hold is measured on the wall clock, which
	// may read a millisecond short of the timer's wait.
	if h, _ := complete["held_by_rate_limits"].(float64); h < 3.1 || h > 4 {
		t.Errorf("sync complete = %v; want the sync held about 3.2s, once however many requests waited", complete)
	}
	for _, want := range []string{"sync.c1z: synced in", "1 retries, ", "waits (held by rate limits for 3.", "resource type", "total", "held through group membership"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, res.stdout)
		}
	}
}

// TestLogLinesGoAboveTheProgressLine: on a terminal, a log line clears the
// progress line, is written, and the progress line is drawn again below it.
func TestLogLinesGoAboveTheProgressLine(t *testing.T) {
	var out bytes.Buffer
	s := &statusWriter{w: &out}
	s.setLine("syncing grants · 10")
	_, _ = s.Write([]byte("a log line\n"))
	s.setLine("")
	want := "\r\033[Ksyncing grants · 10" + "\r\033[Ka log line\nsyncing grants · 10" + "\r\033[K"
	if got := out.String(); got != want {
		t.Errorf("terminal output %q, want %q", got, want)
	}
}

// TestDemoIsCleanAndSaysWhatNext: the demo syncs the bundled simulator
// without warnings about the simulator's own data and ends with what to try.
func TestDemoIsCleanAndSaysWhatNext(t *testing.T) {
	dir := t.TempDir()
	res := run(t, dir, nil, "demo", "--users", "60", "--log-format", "json")
	if res.code != 0 {
		t.Fatalf("demo exited %d: %s", res.code, res.stderr)
	}
	// The suggested grant, sync and revoke work as printed, against a
	// simulator started as suggested (here in-process, same users and seed).
	ts := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(60)), segmentsim.Options{WriteLimitPerMinute: -1}))
	t.Cleanup(ts.Close)
	env := []string{"BATON_TOKEN=" + segmentsim.DefaultToken, "BATON_BASE_URL=" + ts.URL}
	tried := 0
	for _, line := range strings.Split(res.stdout, "\n") {
		for _, cmdline := range strings.Split(line, "&&") {
			f := strings.Fields(cmdline)
			if len(f) < 2 || f[0] != "baton-runner" || (f[1] != "grant" && f[1] != "revoke" && f[1] != "sync") {
				continue
			}
			tried++
			if r := run(t, dir, env, f[1:]...); r.code != 0 || !strings.Contains(r.stdout, map[string]string{"grant": ": done", "revoke": ": done", "sync": "synced in"}[f[1]]) {
				t.Errorf("suggested %q: exit %d\n%s%s", strings.TrimSpace(cmdline), r.code, r.stdout, r.stderr)
			}
		}
	}
	if tried != 3 {
		t.Errorf("%d suggested grant, sync and revoke commands found, want 3:\n%s", tried, res.stdout)
	}
	for _, line := range strings.Split(res.stderr, "\n") {
		if strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`) {
			t.Errorf("demo logs: %s", line)
		}
	}
	for _, want := range []string{"demo.c1z: synced in", "Next, explore demo.c1z", "inspect access -f demo.c1z", "baton-runner grant", "baton-runner revoke"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, res.stdout)
		}
	}
}

// TestTerminalProgressKeepsLogsApart runs a sync on a terminal (a pty from
// util-linux's script) with debug logs, which come during the sync: each
// log line is written on a cleared line, never onto the progress line.
func TestTerminalProgressKeepsLogsApart(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("needs util-linux's script for a terminal")
	}
	url := simURL(t, 40)
	cmd := exec.Command(scriptBin, "-qec", strings.Join([]string{binary(t), "sync", "--base-url", url, "--token", segmentsim.DefaultToken,
		"--log-level", "debug", "--log-format", "console", "-f", filepath.Join(t.TempDir(), "out.c1z")}, " "), "/dev/null")
	cmd.Env = append(os.Environ(), childEnv(t)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sync on a terminal: %v\n%s", err, out)
	}
	text := string(out)
	if !strings.Contains(text, "syncing ") || !strings.Contains(text, "egress") || !strings.Contains(text, "synced in") {
		t.Fatalf("want a progress line, debug logs and the summary:\n%q", text)
	}
	for _, line := range strings.Split(text, "\n") {
		for _, seg := range strings.Split(line, "\r\033[K") {
			if strings.HasPrefix(seg, "syncing ") && (strings.Contains(seg, "\tDEBUG\t") || strings.Contains(seg, "\tINFO\t")) {
				t.Fatalf("a log line was written onto the progress line: %q", seg)
			}
		}
	}
}
