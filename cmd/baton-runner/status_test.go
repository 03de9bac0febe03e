package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/host/runner"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestServeShowsItsTenants: next to a healthy tenant, one whose token is
// rejected is retried a few times, each failure one short log line, then
// waits for a reload; /status, /metrics and /readyz say so, and a reload
// with the token fixed brings it back.
func TestServeShowsItsTenants(t *testing.T) {
	_, _, url := writableSim(t, 10, 0)
	dir := t.TempDir()
	port := freePort(t)
	bad := strings.Replace(tenantTOML("bad", url), "env:SIM_TOKEN", "env:BAD_TOKEN", 1)
	path := writeConfig(t, dir, port, tenantTOML("good", url), bad)
	p := start(t, []string{"SIM_TOKEN=" + segmentsim.DefaultToken, "BAD_TOKEN=not-the-token", "BATON_RESTART_BACKOFF=10ms"}, "serve", "--config", path)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	status := func() map[string]runner.TenantStatus {
		_, body := get(base + "/status")
		var s struct{ Tenants []runner.TenantStatus }
		_ = json.Unmarshal([]byte(body), &s)
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
	if g := s["good"]; g.LastSuccess == nil || g.NextRun == nil || g.ConsecutiveFailures != 0 {
		t.Errorf("good: %+v; want a last success, a next run and no failures", g)
	}
	b := s["bad"]
	if b.ConsecutiveFailures != runner.AuthFailuresBeforeStop || b.LastSuccess != nil || b.Reason == "" || strings.Contains(b.Reason, "rpc error") {
		t.Errorf("bad: %+v; want %d failures, no success, a one-sentence reason", b, runner.AuthFailuresBeforeStop)
	}
	if code, body := get(base + "/readyz"); code != 503 || !strings.Contains(body, "bad") {
		t.Errorf("/readyz = %d %q; want 503 naming the tenant", code, body)
	}
	_, metrics := get(base + "/metrics")
	for _, want := range []string{
		`baton_runner_tenant_state{state="waiting_for_reload",tenant="bad"} 1`,
		`baton_runner_tenant_up{tenant="good"} 1`,
		`baton_runner_tenant_up{tenant="bad"} 0`,
		fmt.Sprintf(`baton_runner_tenant_consecutive_failures{tenant="bad"} %d`, runner.AuthFailuresBeforeStop),
		`baton_runner_tenant_last_success_timestamp_seconds{tenant="good"}`,
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

	// Fixed at the source and reloaded: the tenant runs again.
	path = writeConfig(t, dir, port, tenantTOML("good", url), tenantTOML("bad", url))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 90*time.Second, "bad to sync after the reload", func() bool { return status()["bad"].State == runner.StateOK })
	if code, _ := get(base + "/readyz"); code != 200 {
		t.Errorf("/readyz = %d after the fix", code)
	}
}
