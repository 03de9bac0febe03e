package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/host/membudget"
	"github.com/baton-runner/baton-runner/host/runner"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

func tenantTOML(name, url string) string {
	return fmt.Sprintf(`
[[tenants]]
name = %q
connector = "segment"
base_url = %q
token = "env:SIM_TOKEN"
mode = "sync"
  [tenants.sync]
  interval = "1h"
  output = "out/%s.c1z"
`, name, url, name)
}

func writeConfig(t *testing.T, dir string, port int, tenants ...string) string {
	t.Helper()
	body := fmt.Sprintf("[runtime]\nlisten = \"127.0.0.1:%d\"\n[connectors.segment]\nwasm = \"embedded:segment\"\n%s", port, strings.Join(tenants, ""))
	path := filepath.Join(dir, "runner.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeReloads: serve runs the file's tenants and exposes their
// metrics; SIGHUP adds a tenant; an invalid file on SIGHUP is rejected and
// the running tenants carry on.
func TestServeReloads(t *testing.T) {
	_, _, url := writableSim(t, 15, 0)
	dir := t.TempDir()
	port := freePort(t)
	path := writeConfig(t, dir, port, tenantTOML("alpha", url))
	p := start(t, []string{"SIM_TOKEN=" + segmentsim.DefaultToken}, "serve", "--config", path)
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	synced := func(tenant string) bool {
		_, body := get(metrics)
		return strings.Contains(body, `baton_runner_syncs_total{result="success",tenant="`+tenant+`"} 1`)
	}
	waitUntil(t, 90*time.Second, "alpha's first sync", func() bool { return synced("alpha") })
	if code, _ := get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port)); code != 200 {
		t.Errorf("/readyz = %d", code)
	}

	writeConfig(t, dir, port, tenantTOML("alpha", url), tenantTOML("beta", url))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 90*time.Second, "beta's first sync after the reload", func() bool { return synced("beta") })

	if err := os.WriteFile(path, []byte("[runtime]\nbogus = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the rejected reload to be logged", func() bool {
		return strings.Contains(p.stderr.String(), "reload rejected")
	})
	if !strings.Contains(p.stderr.String(), "runner.toml:2: runtime.bogus") {
		t.Errorf("the rejection does not name the file, line and key:\n%s", p.stderr)
	}
	if code, _ := get(metrics); code != 200 {
		t.Fatal("the process stopped serving after a rejected reload")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, p.stderr)
	}
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestConfigCheckAndOneShotSync(t *testing.T) {
	_, _, url := writableSim(t, 10, 0)
	dir := t.TempDir()
	path := writeConfig(t, dir, freePort(t), tenantTOML("alpha", url), tenantTOML("beta", url))

	// Without the secret the file checks out, and the unresolved
	// reference is named; --require-secrets makes it an error.
	res := run(t, dir, nil, "config", "check", path)
	if res.code != 0 || !strings.Contains(res.stderr, "not resolved here") || !strings.Contains(res.stderr, "SIM_TOKEN") {
		t.Fatalf("config check without the secret: exit %d, stderr %s", res.code, res.stderr)
	}
	if res := run(t, dir, nil, "config", "check", "--config", path, "--require-secrets"); res.code == 0 || !strings.Contains(res.stderr, "SIM_TOKEN") {
		t.Fatalf("config check --require-secrets without the secret: exit %d, stderr %s", res.code, res.stderr)
	}
	env := []string{"SIM_TOKEN=" + segmentsim.DefaultToken}
	if res := run(t, dir, env, "config", "check", path); res.code != 0 || !strings.Contains(res.stdout, "ok, 2 tenant") {
		t.Fatalf("config check: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = run(t, dir, env, "sync", "--config", path, "--tenant", "beta")
	if res.code != 0 {
		t.Fatalf("sync --tenant beta: exit %d\n%s", res.code, res.stderr)
	}
	// Each phase logs its progress, as a scheduled sync's does.
	for _, phase := range []string{"resources", "entitlements", "grants"} {
		if !strings.Contains(res.stderr, `"msg":"sync progress","tenant":"beta","phase":"`+phase+`"`) {
			t.Errorf("sync --config: no progress line for the %s phase\n%s", phase, res.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "beta.c1z")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "alpha.c1z")); err == nil {
		t.Error("--tenant beta also synced alpha")
	}
	if res := run(t, dir, env, "sync", "--config", path, "--all"); res.code != 0 {
		t.Fatalf("sync --all: exit %d\n%s", res.code, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "alpha.c1z")); err != nil {
		t.Error(err)
	}
	// An unknown name is named with the known ones, even where the
	// secrets do not resolve.
	for _, e := range [][]string{env, nil} {
		if res := run(t, dir, e, "sync", "--config", path, "--tenant", "gamma"); res.code == 0 || !strings.Contains(res.stderr, `has no tenant "gamma"; its tenants are alpha, beta`) {
			t.Errorf("unknown tenant: exit %d, %s", res.code, res.stderr)
		}
	}
}

func TestModulePinMismatchIsRefused(t *testing.T) {
	_, _, url := writableSim(t, 5, 0)
	dir := t.TempDir()
	pin := strings.Repeat("ab", 32)
	body := fmt.Sprintf("[connectors.segment]\nwasm = \"embedded:segment\"\nsha256 = %q\n%s", pin, tenantTOML("alpha", url))
	path := filepath.Join(dir, "runner.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	res := run(t, dir, []string{"SIM_TOKEN=" + segmentsim.DefaultToken}, "config", "check", path)
	if res.code == 0 || !strings.Contains(res.stderr, pin) || !strings.Contains(res.stderr, "has sha256 ") {
		t.Fatalf("exit %d, stderr:\n%s\nwant a refusal naming both hashes", res.code, res.stderr)
	}
}

// TestShardIndexNeedsAnOrdinal: with several shards, a process whose
// HOSTNAME is not a StatefulSet pod name must be told its shard; taking
// shard 0 would run a tenant in two processes.
func TestShardIndexNeedsAnOrdinal(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.toml") // reached only once the shard is settled
	for _, tc := range []struct {
		host string
		args []string
		want []string
	}{
		{"worker", nil, []string{`HOSTNAME "worker"`, "--shard-index", "--shard-count 2"}},
		{"worker-a", nil, []string{`HOSTNAME "worker-a"`, "--shard-index"}},
		{"", nil, []string{`HOSTNAME ""`, "--shard-index"}},
		{"baton-runner-5", nil, []string{"shard index 5 is not below --shard-count 2"}},
		{"baton-runner-1", nil, []string{"missing.toml"}},
		{"worker", []string{"--shard-index", "1"}, []string{"missing.toml"}},
	} {
		args := append([]string{"serve", "--config", missing, "--shard-count", "2"}, tc.args...)
		res := run(t, dir, []string{"HOSTNAME=" + tc.host}, args...)
		if res.code == 0 {
			t.Errorf("HOSTNAME=%q %v: exit 0", tc.host, tc.args)
		}
		for _, w := range tc.want {
			if !strings.Contains(res.stderr, w) {
				t.Errorf("HOSTNAME=%q %v: stderr lacks %q:\n%s", tc.host, tc.args, w, res.stderr)
			}
		}
	}
}

// logLine is the part of the JSON log lines the memory budget's tests read.
type logLine struct {
	TS     float64 `json:"ts"`
	Msg    string  `json:"msg"`
	Tenant string  `json:"tenant"`
	TaskID string  `json:"task_id"`
	Waited float64 `json:"waited"`
}

// logLines returns the lines of a JSON log whose message is one of msgs,
// in order.
func logLines(log string, msgs ...string) []logLine {
	var out []logLine
	for _, l := range strings.Split(log, "\n") {
		var ll logLine
		if json.Unmarshal([]byte(l), &ll) == nil && slices.Contains(msgs, ll.Msg) {
			out = append(out, ll)
		}
	}
	return out
}

// TestServeMemoryBudget: with a process memory budget that holds one 1k-user
// sync but not two (both tenants are unmeasured, so each reserves the
// default, 256 MiB, of the ~290 MiB the budget leaves beside the idle
// process), serve runs the two tenants' first syncs one after the other,
// though max_concurrent_syncs (2) would let them run together, measures
// each, and its peak RSS stays within the budget plus the documented
// margin. Two such syncs together peak at up to ~440 MiB.
func TestServeMemoryBudget(t *testing.T) {
	const budgetMiB = 384
	_, _, url := writableSim(t, 1000, 0)
	dir := t.TempDir()
	port := freePort(t)
	path := writeConfig(t, dir, port, tenantTOML("alpha", url), tenantTOML("beta", url))
	p := start(t, []string{"SIM_TOKEN=" + segmentsim.DefaultToken, fmt.Sprintf("BATON_PROCESS_MEMORY_MIB=%d", budgetMiB)},
		"serve", "--config", path)

	lines := func() []logLine { return logLines(p.stderr.String(), "sync started", "sync complete") }
	waitUntil(t, 3*time.Minute, "both tenants' first syncs", func() bool { return len(lines()) >= 4 })
	hwm := peakRSSMiB(t, p.cmd.Process.Pid)

	// Started, complete, started, complete: the second started once the
	// first was complete, having waited for it.
	l := lines()[:4]
	if l[0].Msg != "sync started" || l[1].Msg != "sync complete" || l[1].Tenant != l[0].Tenant ||
		l[2].Msg != "sync started" || l[3].Msg != "sync complete" || l[3].Tenant != l[2].Tenant || l[2].Tenant == l[0].Tenant {
		t.Fatalf("the syncs overlapped or failed: %+v\n%s", l, p.stderr)
	}
	if l[2].TS < l[1].TS || l[2].Waited < l[1].TS-l[0].TS {
		t.Errorf("%s started at %.3f (after waiting %.3fs), before %s's sync (%.3f..%.3f) was complete", l[2].Tenant, l[2].TS, l[2].Waited, l[0].Tenant, l[0].TS, l[1].TS)
	}
	if limit := budgetMiB + membudget.MarginMiB; hwm > limit {
		t.Errorf("peak RSS %d MiB, over the budget %d MiB plus the margin %d MiB", hwm, budgetMiB, membudget.MarginMiB)
	}
	t.Logf("peak RSS %d MiB under a budget of %d MiB", hwm, budgetMiB)

	// Each sync ran alone, so each tenant has its measured peak.
	_, body := get(fmt.Sprintf("http://127.0.0.1:%d/status", port))
	var st struct{ Tenants []runner.TenantStatus }
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Tenants) != 2 {
		t.Fatalf("/status: %v\n%s", err, body)
	}
	for _, s := range st.Tenants {
		if s.SyncPeakMiB <= 0 || s.SyncPeakMiB > int64(hwm) {
			t.Errorf("tenant %s: sync_peak_mib %d, want a measured peak within the process's %d MiB", s.Name, s.SyncPeakMiB, hwm)
		}
	}
	_, metrics := get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if want := fmt.Sprintf("baton_runner_memory_budget_bytes %g", float64(budgetMiB<<20)); !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %q", want)
	}
}

// peakRSSMiB is a process's VmHWM.
func peakRSSMiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc to read the peak RSS from: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb >> 10
		}
	}
	t.Fatalf("/proc/%d/status has no VmHWM", pid)
	return 0
}
