package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/baton-runner/baton-runner/host/runner"
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
