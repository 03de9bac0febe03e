package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/baton-runner/baton-runner/host/runner"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

var metricName = regexp.MustCompile(`\bbaton_runner_[a-z_]+`)

// checkQuery fails a query that names no metric, or one the binary does
// not export: a dashboard panel or alert that can never show anything.
func checkQuery(t *testing.T, where, expr string, exported []string) {
	t.Helper()
	names := metricName.FindAllString(expr, -1)
	if len(names) == 0 {
		t.Errorf("%s: %q names no baton_runner metric", where, expr)
	}
	for _, n := range names {
		base := n
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, suffix); ok && slices.Contains(exported, b) {
				base = b
			}
		}
		if !slices.Contains(exported, base) {
			t.Errorf("%s: %q names %s, which the binary does not export (it exports %v)", where, expr, n, exported)
		}
	}
}

func TestMonitoringQueriesNameExportedMetrics(t *testing.T) {
	exported := runner.NewMetrics().Names()
	if !slices.Contains(exported, "baton_runner_tenant_state") {
		t.Fatalf("the tenant status metrics are not among %v", exported)
	}

	raw, err := os.ReadFile("../../deploy/monitoring/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	queries := 0
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			queries++
			checkQuery(t, "dashboard panel "+p.Title, q.Expr, exported)
		}
	}

	raw, err = os.ReadFile("../../deploy/monitoring/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			queries++
			checkQuery(t, "alert "+r.Alert, r.Expr, exported)
		}
	}
	if queries < 10 {
		t.Errorf("only %d queries found; did the files' shape change?", queries)
	}
}

// alertRules reads deploy/monitoring/alerts.yaml.
func alertRules(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/monitoring/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out[r.Alert] = r.Expr
		}
	}
	return out
}

// dashboardQueries reads the Grafana dashboard's queries by panel title.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/monitoring/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range dash.Panels {
		for i, q := range p.Targets {
			out[fmt.Sprintf("%s #%d", p.Title, i)] = q.Expr
		}
	}
	return out
}

// TestMonitoringAgainstARealServeRun: serve runs a tenant paced to 600
// requests a minute (as runner.toml's sim-a) and one whose token is
// rejected. After the paced tenant's sync, its rate-limit wait is wall time
// (at most the sync's duration, however many requests were held at once),
// its pacing is a line an interval rather than one a request, the alert
// rules fire for the broken tenant and for nothing else, and every
// dashboard panel shows its data.
func TestMonitoringAgainstARealServeRun(t *testing.T) {
	_, _, url := writableSim(t, 30, 0)
	dir := t.TempDir()
	port := freePort(t)
	paced := strings.Replace(tenantTOML("paced", url), `mode = "sync"`, "mode = \"sync\"\nrequests_per_minute = 600", 1)
	bad := strings.Replace(tenantTOML("bad", url), "env:SIM_TOKEN", "env:BAD_TOKEN", 1)
	path := writeConfig(t, dir, port, paced, bad)
	p := start(t, []string{"SIM_TOKEN=" + segmentsim.DefaultToken, "BAD_TOKEN=not-the-token", "BATON_RESTART_BACKOFF=10ms"}, "serve", "--config", path)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	var series []sample
	value := func(name, tenant string) (float64, bool) {
		for _, s := range series {
			if s.labels["__name__"] == name && s.labels["tenant"] == tenant {
				return s.value, true
			}
		}
		return 0, false
	}
	waitUntil(t, 90*time.Second, "paced to sync and bad to wait for a reload", func() bool {
		_, body := get(base + "/metrics")
		var err error
		if series, err = scrape(body); err != nil {
			t.Fatal(err)
		}
		synced, _ := value("baton_runner_syncs_total", "paced")
		waiting := 0.0
		for _, s := range series {
			if s.labels["__name__"] == "baton_runner_tenant_state" && s.labels["tenant"] == "bad" && s.labels["state"] == "waiting_for_reload" {
				waiting = s.value
			}
		}
		return synced == 1 && waiting == 1
	})
	now := time.Now()

	took, _ := value("baton_runner_sync_duration_seconds_sum", "paced")
	waited, _ := value("baton_runner_rate_limit_wait_seconds_total", "paced")
	t.Logf("paced: sync took %.1fs, held by rate limits %.1fs", took, waited)
	if waited <= 0 || waited > took {
		t.Errorf("baton_runner_rate_limit_wait_seconds_total = %.1fs for a sync of %.1fs paced all along; want wall time, above 0 and at most the sync's", waited, took)
	}
	var heldLines, perRequest int
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		switch {
		case strings.Contains(line, `"msg":"requests held by rate limits","tenant":"paced"`):
			heldLines++
		case strings.Contains(line, `"tenant":"paced"`) && strings.Contains(line, "waiting before an API request"):
			perRequest++
		}
	}
	// One line once the sync has been held 3s, then one per 30s and at its
	// end.
	if heldLines == 0 || heldLines > int(took/30)+2 || perRequest > 0 {
		t.Errorf("pacing logged %d interval lines and %d per-request lines over %.1fs; want at most %d and none", heldLines, perRequest, took, int(took/30)+2)
	}

	firing := map[string][]string{}
	for alert, expr := range alertRules(t) {
		v, err := evalPromQL(expr, series, now)
		if err != nil {
			t.Fatalf("alert %s: %v", alert, err)
		}
		for _, s := range v.vec {
			firing[alert] = append(firing[alert], s.labels["tenant"])
		}
	}
	want := map[string][]string{
		"BatonRunnerTenantWaitingForReload": {"bad"},
		"BatonRunnerTenantFailing":          {"bad"},
		"BatonRunnerTenantNeverSucceeded":   {"bad"},
	}
	if fmt.Sprint(firing) != fmt.Sprint(want) {
		t.Errorf("alerts firing %v, want %v (ignoring their for:)", firing, want)
	}

	// Panels that have nothing to show in a run without egress denials.
	empty := map[string]bool{"Egress denials (per hour) #0": true}
	for panel, expr := range dashboardQueries(t) {
		v, err := evalPromQL(expr, series, now)
		if err != nil {
			t.Fatalf("panel %s: %v", panel, err)
		}
		if len(v.vec) == 0 != empty[panel] {
			t.Errorf("panel %s (%s) shows %v", panel, expr, v.vec)
		}
		if strings.HasPrefix(panel, "Rate-limit wait (share of time)") {
			for _, s := range v.vec {
				if s.value < 0 || s.value > 1 {
					t.Errorf("panel %s: %s at %.2f, not a share of time", panel, s.labels["tenant"], s.value)
				}
			}
		}
	}
}
