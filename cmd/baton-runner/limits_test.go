package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// parseLimits runs the limit flags over args as a command would.
func parseLimits(t *testing.T, args ...string) (synclimits.Limits, error) {
	t.Helper()
	var got synclimits.Limits
	var err error
	app := &cli.App{Flags: limitFlags(), Action: func(c *cli.Context) error {
		got, err = syncLimits(c)
		return nil
	}}
	if runErr := app.Run(append([]string{"baton-runner"}, args...)); runErr != nil {
		t.Fatal(runErr)
	}
	return got, err
}

func TestLimitFlags(t *testing.T) {
	got, err := parseLimits(t)
	if want := (synclimits.Limits{}.WithDefaults()); err != nil || got != want {
		t.Errorf("defaults: %+v, %v; want %+v", got, err, want)
	}

	t.Setenv("BATON_MAX_PAGES", "1234")
	t.Setenv("BATON_SYNC_TIMEOUT", "45m")
	got, err = parseLimits(t, "--max-empty-pages", "7", "--max-items", "99", "--max-depth", "3", "--max-c1z-mib", "64", "--request-budget", "500", "--max-in-flight", "8")
	want := synclimits.Limits{Timeout: 45 * time.Minute, MaxPages: 1234, MaxEmptyPages: 7, MaxItems: 99, MaxDepth: 3, MaxC1ZBytes: 64 << 20, RequestBudget: 500, MaxInFlight: 8}
	if err != nil || got != want {
		t.Errorf("flags and environment: %+v, %v; want %+v", got, err, want)
	}

	_, err = parseLimits(t, "--sync-timeout", "10s", "--max-pages", "0", "--max-empty-pages", "0", "--max-depth", "100", "--max-c1z-mib", "1", "--request-budget", "-1", "--max-in-flight", "0")
	for _, w := range []string{
		"--sync-timeout (BATON_SYNC_TIMEOUT) must be between 1m0s and 168h0m0s, not 10s",
		"--max-pages (BATON_MAX_PAGES) must be between 1 and 1000000000, not 0",
		"--max-empty-pages (BATON_MAX_EMPTY_PAGES) must be between 1 and 1000000000, not 0",
		"--max-depth (BATON_MAX_DEPTH) must be between 1 and 64, not 100",
		"--max-c1z-mib (BATON_MAX_C1Z_MIB) must be between 16 and 1048576, not 1",
		"--request-budget (BATON_REQUEST_BUDGET) must be between 0 and 2147483647, not -1",
		"--max-in-flight (BATON_MAX_IN_FLIGHT) must be between 1 and 64, not 0",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
}

// TestRequestBudgetFlagReachesTheSync: a limit given on the command line
// ends the sync, which names it, and the previous c1z stays.
func TestRequestBudgetFlagReachesTheSync(t *testing.T) {
	url := simURL(t, 20)
	dir := t.TempDir()
	prev := []byte("previous good sync")
	if err := os.WriteFile(filepath.Join(dir, "sync.c1z"), prev, 0o600); err != nil {
		t.Fatal(err)
	}
	res := run(t, dir, []string{"BATON_REQUEST_BUDGET=3"}, "sync", "--base-url", url, "--token", segmentsim.DefaultToken)
	if res.code == 0 {
		t.Fatal("a sync over its request budget exited 0")
	}
	for _, w := range []string{"sync exceeded request_budget (3 API requests", "--request-budget", "sync.c1z was not modified"} {
		if !strings.Contains(res.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, res.stderr)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "sync.c1z")); string(got) != string(prev) {
		t.Error("the previous c1z was modified")
	}
	if res := run(t, dir, nil, "sync", "--max-depth", "0", "--token", "x"); res.code == 0 || !strings.Contains(res.stderr, "--max-depth") {
		t.Errorf("--max-depth 0: exit %d, stderr %s", res.code, res.stderr)
	}
}
