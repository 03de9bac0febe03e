package tenant_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

func limitedTenant(t *testing.T, e *env, l synclimits.Limits) *tenant.Tenant {
	t.Helper()
	// Exact budgets need the exact request count of a one-worker sync:
	// parallel workers may each read GET / once (see parallel_test.go).
	tn, err := tenant.New(segmentModule(t), tenant.Config{Name: "limits", Limits: l, Instances: 1,
		Egress: egress.Config{BaseURL: e.url, Token: secret.New(segmentsim.DefaultToken)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close(context.Background()) })
	return tn
}

// need runs an unlimited sync of e and returns what it used: guest list
// calls and API requests. Validate (one call, one GET /) is outside the
// sync and not charged to it.
func need(t *testing.T, e *env) (pages, requests int64) {
	t.Helper()
	tn := limitedTenant(t, e, synclimits.Limits{})
	e.sim.ResetRequests()
	if err := tn.Sync(context.Background(), localsync.Options{Path: filepath.Join(t.TempDir(), "s.c1z")}); err != nil {
		t.Fatal(err)
	}
	return int64(tn.Stats().Calls) - 1, int64(e.sim.RequestCount()) - 1
}

// failsNaming asserts err is the limit's error (a *synclimits.Error, found
// by errors.As whether the connector sent it across gRPC or localsync made
// it for the wall time) and the previous c1z at path is untouched.
func failsNaming(t *testing.T, err error, key, path string, old []byte) {
	t.Helper()
	var le *synclimits.Error
	if !errors.As(err, &le) || le.Key != key || !strings.Contains(err.Error(), "sync exceeded "+key) ||
		!strings.Contains(err.Error(), "--"+strings.ReplaceAll(key, "_", "-")) {
		t.Fatalf("err = %v (limit %+v), want a *synclimits.Error naming %s", err, le, key)
	}
	t.Logf("%s: %v", key, err)
	if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
		t.Fatal("the failed sync replaced the previous c1z")
	}
}

// TestSegmentSyncLimits: each count limit set exactly to what a sync of
// the workspace needs lets it through; one below ends it with an error
// naming the limit, and the previous c1z stays.
func TestSegmentSyncLimits(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(60))
	pages, requests := need(t, e)
	t.Logf("the sync needs %d guest list calls and %d API requests", pages, requests)
	snapshotPath := filepath.Join(t.TempDir(), "full.c1z")
	if err := limitedTenant(t, e, synclimits.Limits{}).Sync(context.Background(), localsync.Options{Path: snapshotPath}); err != nil {
		t.Fatal(err)
	}
	resources := int64(len(load(t, snapshotPath).Resources))

	for _, tc := range []struct {
		key        string
		enough, lo synclimits.Limits
	}{
		{"max_pages", synclimits.Limits{MaxPages: pages}, synclimits.Limits{MaxPages: pages - 1}},
		{"request_budget", synclimits.Limits{RequestBudget: requests}, synclimits.Limits{RequestBudget: requests - 1}},
		// Entitlements and grants count too: the resources alone are
		// far below what the sync lists.
		{"max_items", synclimits.Limits{}, synclimits.Limits{MaxItems: resources}},
		// The store's first files are over a one-byte limit.
		{"max_c1z_mib", synclimits.Limits{}, synclimits.Limits{MaxC1ZBytes: 1}},
		{"sync_timeout", synclimits.Limits{}, synclimits.Limits{Timeout: time.Nanosecond}},
	} {
		t.Run(tc.key, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.c1z")
			if err := limitedTenant(t, e, tc.enough).Sync(context.Background(), localsync.Options{Path: path}); err != nil {
				t.Fatalf("with exactly enough: %v", err)
			}
			old, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			err = limitedTenant(t, e, tc.lo).Sync(context.Background(), localsync.Options{Path: path})
			failsNaming(t, err, tc.key, path, old)
		})
	}
}

// TestBudgetIsPerSyncInServiceMode: service mode runs every task's sync
// through one client of one tenant. A budget one sync needs in full must
// not be spent for the syncs after it (it used to be reset only by
// tenant.Sync, so a service-mode tenant failed every task after the first
// big one).
func TestBudgetIsPerSyncInServiceMode(t *testing.T) {
	e := startSim(t, segmentsim.DefaultConfig(30))
	_, requests := need(t, e)
	limits := synclimits.Limits{RequestBudget: requests}
	tn := limitedTenant(t, e, limits)
	cc, err := tn.Client(context.Background(), tenant.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for i := range 3 {
		path := filepath.Join(t.TempDir(), "task.c1z")
		if err := localsync.Run(context.Background(), cc, localsync.Options{Path: path, Limits: limits}); err != nil {
			t.Fatalf("sync %d through the same client: %v", i+1, err)
		}
	}
}
