package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/host/runner"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestServeShowsItsTenants: next to a healthy tenant, one whose token (a
// file: reference, as from a mounted Secret) is rejected is retried a few
// times, each failure one short log line, then waits for a reload; /status
// and /metrics say so with each tenant's phase, and /readyz stays ready,
// naming it: the process still does its job for the other tenant. A
// rejected reload shows in /status and the metrics. Rotating the token in
// its file heals the tenant without a signal or a restart.
func TestServeShowsItsTenants(t *testing.T) {
	_, _, url := writableSim(t, 10, 0)
	dir := t.TempDir()
	port := freePort(t)
	tokenFile := filepath.Join(dir, "bad-token")
	if err := os.WriteFile(tokenFile, []byte("not-the-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(tenantTOML("bad", url), "env:SIM_TOKEN", "file:"+tokenFile, 1)
	path := writeConfig(t, dir, port, tenantTOML("good", url), bad)
	p := start(t, []string{"SIM_TOKEN=" + segmentsim.DefaultToken, "BATON_RESTART_BACKOFF=10ms", "BATON_WATCH_SECRETS=100ms"}, "serve", "--config", path)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	var config runner.ConfigStatus
	status := func() map[string]runner.TenantStatus {
		_, body := get(base + "/status")
		var s struct {
			Config  runner.ConfigStatus
			Tenants []runner.TenantStatus
		}
		_ = json.Unmarshal([]byte(body), &s)
		config = s.Config
		out := map[string]runner.TenantStatus{}
		for _, ts := range s.Tenants {
			out[ts.Name] = ts
		}
		return out
	}
	waitUntil(t, 90*time.Second, "good to sync and bad to wait for a reload", func() bool {
		s := status()
		return s["good"].State == runner.StateOK && s["bad"].State == runner.StateWaitingForReload
	})
	s := status()
	if g := s["good"]; g.LastSuccess == nil || g.NextRun == nil || g.ConsecutiveFailures != 0 || g.Phase != runner.PhaseIdle || g.Since == nil {
		t.Errorf("good: %+v; want a last success, a next run, no failures, idle since the sync", g)
	}
	b := s["bad"]
	if b.ConsecutiveFailures != runner.AuthFailuresBeforeStop || b.LastSuccess != nil || b.Reason == "" || strings.Contains(b.Reason, "rpc error") ||
		b.Phase != runner.PhaseWaitingForReload || b.Since == nil {
		t.Errorf("bad: %+v; want %d failures, no success, a one-sentence reason, waiting for reload since then", b, runner.AuthFailuresBeforeStop)
	}
	if config.Generation != 1 || config.AppliedAt == nil || config.LastReload != nil {
		t.Errorf("config status %+v; want generation 1 and no reload yet", config)
	}
	if code, body := get(base + "/readyz"); code != 200 || !strings.Contains(body, "bad (waiting for reload)") {
		t.Errorf("/readyz = %d %q; want 200 naming the tenant that needs attention", code, body)
	}
	_, metrics := get(base + "/metrics")
	for _, want := range []string{
		`baton_runner_tenant_state{state="waiting_for_reload",tenant="bad"} 1`,
		`baton_runner_tenant_phase{phase="waiting_for_reload",tenant="bad"} 1`,
		`baton_runner_tenant_phase{phase="idle",tenant="good"} 1`,
		`baton_runner_tenant_phase_since_timestamp_seconds{tenant="good"}`,
		`baton_runner_tenant_up{tenant="good"} 1`,
		`baton_runner_tenant_up{tenant="bad"} 0`,
		fmt.Sprintf(`baton_runner_tenant_consecutive_failures{tenant="bad"} %d`, runner.AuthFailuresBeforeStop),
		`baton_runner_tenant_last_success_timestamp_seconds{tenant="good"}`,
		"baton_runner_config_generation 1",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A scheduled sync logs its phases, so a pod's log is not silent for
	// the length of a sync.
	for _, phase := range []string{"resources", "entitlements", "grants"} {
		if !strings.Contains(p.stderr.String(), `"msg":"sync progress","tenant":"good","phase":"`+phase+`"`) {
			t.Errorf("no sync progress line for good's %s phase", phase)
		}
	}
	var failures []string
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(line, `"tenant":"bad"`) && strings.Contains(line, `"level":"error"`) {
			failures = append(failures, line)
		}
	}
	if len(failures) != runner.AuthFailuresBeforeStop {
		t.Errorf("%d error lines for the bad tenant, want one per attempt (%d):\n%s", len(failures), runner.AuthFailuresBeforeStop, strings.Join(failures, "\n"))
	}
	t.Logf("failure lines:\n%s", strings.Join(failures, "\n"))
	for _, l := range failures {
		if strings.Contains(l, "stacktrace") || strings.Contains(l, "rpc error") || len(l) > 600 {
			t.Errorf("failure line is not concise: %s", l)
		}
	}

	// A reload of a broken file is rejected, and says so where an
	// operator looks, not only in the log.
	good, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte("[runtime]\nbogus = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the rejected reload in /status", func() bool { status(); return config.LastReload != nil })
	if lr := config.LastReload; lr.Result != runner.ReloadRejected || lr.Trigger != "SIGHUP" || !strings.Contains(lr.Error, "runtime.bogus") || config.Generation != 1 {
		t.Errorf("config status %+v, last reload %+v; want generation 1 and the SIGHUP reload rejected, naming the key", config, lr)
	}
	if _, metrics := get(base + "/metrics"); !strings.Contains(metrics, "baton_runner_config_last_reload_success 0") {
		t.Error("/metrics does not show the rejected reload")
	}
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}

	// The token rotated in its file, as a Secret volume is updated: the
	// runner notices, reloads, and the tenant runs again.
	if err := os.WriteFile(tokenFile, []byte(segmentsim.DefaultToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 90*time.Second, "bad to sync after its token file changed", func() bool { return status()["bad"].State == runner.StateOK })
	if lr := config.LastReload; lr == nil || lr.Result != runner.ReloadApplied || lr.Trigger != "secret file changed" || config.Generation != 2 {
		t.Errorf("config status %+v, last reload %+v; want generation 2 from the changed secret file", config, lr)
	}
	if g := status()["good"]; g.ConsecutiveFailures != 0 || g.Since == nil || g.Since.After(*config.AppliedAt) {
		t.Errorf("good %+v was restarted by the reload of another tenant's secret", g)
	}
	if code, body := get(base + "/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz = %d %q after the fix", code, body)
	}
}
