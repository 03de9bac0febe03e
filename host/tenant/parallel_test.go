package tenant_test

import (
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// requestsServed counts the requests the simulator answered other than
// with a 429, by method, path and query: what a sync had to read.
func requestsServed(sim *segmentsim.Server) map[string]int {
	out := map[string]int{}
	for _, r := range sim.Requests() {
		if r.Status != http.StatusTooManyRequests {
			out[r.Method+" "+r.Path+"?"+r.RawQuery]++
		}
	}
	return out
}

// contentIDs lists the IDs of a c1z's resources, entitlements and grants.
func contentIDs(s *inspect.Snapshot) []string {
	var ids []string
	for _, r := range s.Resources {
		ids = append(ids, "resource "+inspect.ResourceKey(r.GetId()))
	}
	for _, e := range s.Entitlements {
		ids = append(ids, "entitlement "+e.GetId())
	}
	for _, g := range s.Grants {
		ids = append(ids, "grant "+g.GetId())
	}
	slices.Sort(ids)
	return ids
}

// syncInFlight syncs a fresh simulator of cfg (served with opts) with n
// instances (sync workers) and max_in_flight n, and returns the c1z's
// content and the simulator.
func syncInFlight(t *testing.T, cfg segmentsim.Config, opts segmentsim.Options, n int) ([]string, *segmentsim.Server) {
	t.Helper()
	ws := segmentsim.Generate(cfg)
	sim := segmentsim.NewServer(ws, opts)
	e := &env{ws: ws.Clone(), sim: sim, url: serve(t, sim), audit: &auditLog{}}
	path := filepath.Join(t.TempDir(), "s.c1z")
	if err := e.syncWith(t, segmentsim.DefaultToken, path, func(c *tenant.Config) {
		c.Limits = synclimits.Limits{MaxInFlight: n}
		c.Instances = n
	}); err != nil {
		t.Fatalf("max_in_flight %d: %v", n, err)
	}
	return contentIDs(load(t, path)), sim
}

// sessionListed says whether a request reads one of the sync-wide lists
// the guest keeps in the session (the workspace, roles and sources): a
// worker that needs one before another worker stored it reads it too, so
// a parallel sync may read each up to once per worker (see
// docs/ARCHITECTURE.md).
func sessionListed(request string) bool {
	path, _, _ := strings.Cut(request, "?")
	return path == "GET /" || path == "GET /roles" || path == "GET /sources"
}

// TestParallelSyncMatchesSequential: a sync with several workers and
// requests in flight writes exactly what a sequential one writes and reads
// every page and user once, as the sequential sync does (the session's
// sync-wide lists aside: at most once per worker). Rate limits have tests
// of their own below.
func TestParallelSyncMatchesSequential(t *testing.T) {
	cfg := segmentsim.DefaultConfig(200)
	want, seq := syncInFlight(t, cfg, segmentsim.Options{}, 1)
	wantRequests := requestsServed(seq)
	if len(want) == 0 || len(wantRequests) == 0 {
		t.Fatal("the sequential sync wrote or read nothing")
	}
	for _, tc := range []struct {
		name string
		opts segmentsim.Options
		n    int
	}{
		{"4 in flight, with latency", segmentsim.Options{Latency: 2 * time.Millisecond}, 4},
		{"8 in flight", segmentsim.Options{}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, sim := syncInFlight(t, cfg, tc.opts, tc.n)
			if !slices.Equal(got, want) {
				t.Errorf("content differs from the sequential sync:\n%s", diffIDs(want, got))
			}
			requests := requestsServed(sim)
			for k, n := range requests {
				if sessionListed(k) && n >= wantRequests[k] && n <= tc.n*wantRequests[k] {
					requests[k] = wantRequests[k]
				}
			}
			if !maps.Equal(requests, wantRequests) {
				t.Errorf("requests differ from the sequential sync:\n%s", diffCounts(wantRequests, requests))
			}
		})
	}
}

// TestReadLimitFollowedWithoutTooManyRequests: under a read limit, a
// parallel sync follows the API's rate-limit window (X-RateLimit-Remaining
// and -Reset) and waits for each reset instead of running into it: no
// request is answered 429 but the one probe that learns when these
// one-second windows end (msBeforeNext; the dates say it only to the
// second), and the content is the unlimited sync's.
func TestReadLimitFollowedWithoutTooManyRequests(t *testing.T) {
	cfg := segmentsim.DefaultConfig(60)
	want, _ := syncInFlight(t, cfg, segmentsim.Options{}, 1)
	// One-second windows of 25 requests: the sync needs several.
	got, sim := syncInFlight(t, cfg, segmentsim.Options{ReadLimitPerMinute: 25, RateWindow: time.Second}, 8)
	if !slices.Equal(got, want) {
		t.Errorf("content differs from the unlimited sync:\n%s", diffIDs(want, got))
	}
	served := total(requestsServed(sim))
	if limited := len(sim.Requests()) - served; limited > 1 {
		t.Errorf("%d of %d answers were 429; beyond the probe's, the window should have been waited out", limited, len(sim.Requests()))
	}
	if served <= 3*25 {
		t.Fatalf("the sync made %d requests, too few to span several windows of 25", served)
	}
}

// TestTooManyRequestsStormSurvived: a burst of 429s (each asking for a
// short wait) in the middle of a parallel sync's per-user requests is
// waited out by the host; the sync succeeds with the same content.
func TestTooManyRequestsStormSurvived(t *testing.T) {
	cfg := segmentsim.DefaultConfig(60)
	want, _ := syncInFlight(t, cfg, segmentsim.Options{}, 1)
	ws := segmentsim.Generate(cfg)
	sim := segmentsim.NewServer(ws, segmentsim.Options{})
	sim.InjectRateLimit("GET", "/users/", 30, 50)
	e := &env{ws: ws.Clone(), sim: sim, url: serve(t, sim), audit: &auditLog{}}
	path := filepath.Join(t.TempDir(), "s.c1z")
	if err := e.syncWith(t, segmentsim.DefaultToken, path, func(c *tenant.Config) {
		c.Limits = synclimits.Limits{MaxInFlight: 8}
		c.Instances = 2
	}); err != nil {
		t.Fatalf("sync through 30 × 429: %v", err)
	}
	if got := contentIDs(load(t, path)); !slices.Equal(got, want) {
		t.Errorf("content differs from the undisturbed sync:\n%s", diffIDs(want, got))
	}
	if limited := len(sim.Requests()) - total(requestsServed(sim)); limited != 30 {
		t.Errorf("%d answers were 429, want the 30 injected", limited)
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func diffIDs(want, got []string) string {
	w, g := map[string]int{}, map[string]int{}
	for _, id := range want {
		w[id]++
	}
	for _, id := range got {
		g[id]++
	}
	return diffCounts(w, g)
}

// diffCounts lists the keys whose counts differ, at most 20.
func diffCounts(want, got map[string]int) string {
	keys := slices.Collect(maps.Keys(want))
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out strings.Builder
	n := 0
	for _, k := range keys {
		if want[k] != got[k] && n < 20 {
			fmt.Fprintf(&out, "  %s: want %d, got %d\n", k, want[k], got[k])
			n++
		}
	}
	return out.String()
}
