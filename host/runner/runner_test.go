package runner

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

func modules(t *testing.T) []Module {
	t.Helper()
	var out []Module
	for name, pkg := range map[string]string{"segment": "guest/segment/wasm", "probe": "internal/testguests/probe"} {
		b, err := os.ReadFile(wasmbuild.Module(t, pkg))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Module{Name: name, Wasm: b})
	}
	return out
}

var testRuntime = Runtime{CacheDir: wasmbuild.CacheDir, MemoryLimitMiB: 64, CallTimeout: 8 * time.Second}

func simURL(t *testing.T) string {
	t.Helper()
	ts := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(20)), segmentsim.Options{}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func syncTenant(name, url, dir string) TenantSpec {
	return TenantSpec{Name: name, Module: "segment", BaseURL: url, Token: secret.New(segmentsim.DefaultToken),
		Mode: ModeSync, Interval: 100 * time.Millisecond, Output: filepath.Join(dir, name+".c1z")}
}

func hostile(name, probe, url, dir string) TenantSpec {
	t := syncTenant(name, url, dir)
	t.Module, t.Settings = "probe", map[string]string{"probe": probe}
	return t
}

// counter reads a counter of the registry, 0 when absent.
func counter(t *testing.T, m *Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, metric := range f.GetMetric() {
			if matches(metric, labels) {
				total += metric.GetCounter().GetValue()
			}
		}
	}
	return total
}

// histogram reads an unlabelled histogram of the registry.
func histogram(t *testing.T, m *Metrics, name string) *dto.Histogram {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetHistogram()
		}
	}
	t.Fatalf("no single %s histogram", name)
	return nil
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := labels[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMisbehavingTenantsAreContained runs healthy tenants next to guests
// that spin, crash, exhaust memory and flood logs: the bad ones are
// restarted with back-off and counted, the healthy ones keep syncing.
func TestMisbehavingTenantsAreContained(t *testing.T) {
	url, dir := simURL(t), t.TempDir()
	core, logs := observer.New(zap.InfoLevel)
	m := NewMetrics()
	r := New(Options{Logger: zap.New(core), Metrics: m, RestartBackoff: 50 * time.Millisecond, MaxRestartBackoff: 200 * time.Millisecond})
	defer r.Stop(context.Background())
	// Enough sync slots for every tenant: this test is about isolation,
	// not about the sync gate's queueing.
	spec := Spec{Runtime: testRuntime, MaxConcurrentSyncs: 8, Modules: modules(t), Tenants: []TenantSpec{
		syncTenant("healthy-a", url, dir), syncTenant("healthy-b", url, dir),
		hostile("spinner", "loop", url, dir), hostile("crasher", "panic", url, dir),
		hostile("bomber", "memory", url, dir), hostile("flooder", "logflood", url, dir),
	}}
	if err := r.Apply(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	success := func(name string) float64 {
		return counter(t, m, "baton_runner_syncs_total", map[string]string{"tenant": name, "result": "success"})
	}
	waitFor(t, 2*time.Minute, "three syncs of each healthy tenant and two restarts of each crashing one", func() bool {
		for _, name := range []string{"spinner", "crasher", "bomber"} {
			if counter(t, m, "baton_runner_tenant_restarts_total", map[string]string{"tenant": name}) < 2 {
				return false
			}
		}
		return success("healthy-a") >= 3 && success("healthy-b") >= 3
	})
	families, _ := m.Registry().Gather()
	memorySeen := false
	for _, f := range families {
		memorySeen = memorySeen || (f.GetName() == "baton_runner_guest_memory_bytes" && len(f.GetMetric()) > 0)
	}
	if !memorySeen {
		t.Error("no guest memory gauge reported")
	}
	for name, kind := range map[string]string{"spinner": "timeout", "crasher": "trap", "bomber": "trap"} {
		if n := counter(t, m, "baton_runner_guest_traps_total", map[string]string{"tenant": name, "kind": kind}); n < 1 {
			t.Errorf("%s: %v %s events counted", name, n, kind)
		}
	}
	for _, name := range []string{"healthy-a", "healthy-b"} {
		if n := counter(t, m, "baton_runner_syncs_total", map[string]string{"tenant": name, "result": "failure"}); n != 0 {
			t.Errorf("%s failed %v times next to the misbehaving tenants", name, n)
			for _, e := range logs.FilterField(zap.String("tenant", name)).FilterLevelExact(zap.ErrorLevel).All() {
				t.Logf("%s: %s %v", name, e.Message, e.ContextMap())
			}
		}
		snap, err := inspect.Load(context.Background(), filepath.Join(dir, name+".c1z"), t.TempDir())
		if err != nil || len(snap.Resources) == 0 {
			t.Errorf("%s: c1z unreadable or empty: %v", name, err)
		}
	}
	// The flood is capped per instance (an idle tenant's instances are
	// closed after each sync, so each sync gets a fresh budget) and
	// attributed to its tenant.
	flood := 0
	for _, e := range logs.FilterField(zap.String("tenant", "flooder")).All() {
		flood += len(e.Message)
	}
	instances := counter(t, m, "baton_runner_guest_instances_created_total", map[string]string{"tenant": "flooder"})
	if limit := (instances + 1) * sandbox.DefaultMaxLogBytes; float64(flood) > limit {
		t.Errorf("the flooding tenant logged %d bytes from %v instances, more than %v", flood, instances, limit)
	}
	if logs.FilterField(zap.String("tenant", "flooder")).FilterMessageSnippet("log budget").Len() == 0 {
		t.Error("the flood was not reported")
	}
}

func TestApplyReconcilesTenants(t *testing.T) {
	url, dir := simURL(t), t.TempDir()
	r := New(Options{RestartBackoff: 50 * time.Millisecond})
	defer r.Stop(context.Background())
	mods := modules(t)
	a, b, c := syncTenant("a", url, dir), syncTenant("b", url, dir), syncTenant("c", url, dir)
	if err := r.Apply(context.Background(), Spec{Runtime: testRuntime, Modules: mods, Tenants: []TenantSpec{a, b}}); err != nil {
		t.Fatal(err)
	}
	beforeA, beforeB := r.tenants["a"], r.tenants["b"]

	// Reloading the same configuration, with secrets read anew, changes
	// nothing.
	a2 := a
	a2.Token = secret.New(segmentsim.DefaultToken)
	if err := r.Apply(context.Background(), Spec{Runtime: testRuntime, Modules: mods, Tenants: []TenantSpec{a2, b}}); err != nil {
		t.Fatal(err)
	}
	if r.tenants["a"] != beforeA || r.tenants["b"] != beforeB {
		t.Fatal("an unchanged reload restarted tenants")
	}

	changedB := b
	changedB.Interval = time.Hour
	if err := r.Apply(context.Background(), Spec{Runtime: testRuntime, Modules: mods, Tenants: []TenantSpec{changedB, c}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-beforeA.done:
	default:
		t.Error("removed tenant a is still running")
	}
	select {
	case <-beforeB.done:
	default:
		t.Error("changed tenant b was not restarted")
	}
	if got := strings.Join(slices.Sorted(slices.Values(r.Tenants())), ","); got != "b,c" {
		t.Errorf("running %s, want b,c", got)
	}
	if r.tenants["b"].spec.Interval != time.Hour {
		t.Error("tenant b runs its old configuration")
	}

	// A configuration whose module does not compile changes nothing.
	bad := append([]Module(nil), mods...)
	bad[0] = Module{Name: bad[0].Name, Wasm: []byte("not wasm")}
	if err := r.Apply(context.Background(), Spec{Runtime: testRuntime, Modules: bad, Tenants: []TenantSpec{a}}); err == nil {
		t.Fatal("a module that is not wasm was accepted")
	}
	if got := strings.Join(slices.Sorted(slices.Values(r.Tenants())), ","); got != "b,c" {
		t.Errorf("after a rejected reload running %s, want b,c", got)
	}
}

func TestShardsPartitionTenants(t *testing.T) {
	const shards = 3
	seen := map[string]int{}
	for i := range 300 {
		name := fmt.Sprintf("tenant-%d", i)
		s := ShardOf(name, shards)
		if s < 0 || s >= shards || ShardOf(name, shards) != s {
			t.Fatalf("%s: shard %d", name, s)
		}
		seen[name]++
	}
	counts := map[int]int{}
	for name := range seen {
		counts[ShardOf(name, shards)]++
	}
	for s := range shards {
		if counts[s] < 50 {
			t.Errorf("shard %d got %d of 300 tenants", s, counts[s])
		}
	}

	url, dir := simURL(t), t.TempDir()
	var specs []TenantSpec
	for i := range 6 {
		ts := syncTenant(fmt.Sprintf("t%d", i), url, dir)
		ts.Interval = time.Hour
		specs = append(specs, ts)
	}
	owner := map[string]int{}
	for idx := range shards {
		r := New(Options{ShardIndex: idx, ShardCount: shards})
		if err := r.Apply(context.Background(), Spec{Runtime: testRuntime, Modules: modules(t), Tenants: specs}); err != nil {
			t.Fatal(err)
		}
		for _, name := range r.Tenants() {
			if prev, dup := owner[name]; dup {
				t.Errorf("%s runs on shards %d and %d", name, prev, idx)
			}
			owner[name] = idx
		}
		r.Stop(context.Background())
	}
	if len(owner) != len(specs) {
		t.Errorf("%d of %d tenants run on some shard", len(owner), len(specs))
	}
}

func TestRequestBudget(t *testing.T) {
	url, dir := simURL(t), t.TempDir()
	m := NewMetrics()
	r := New(Options{Metrics: m, RestartBackoff: time.Hour})
	defer r.Stop(context.Background())
	ts := syncTenant("thrifty", url, dir)
	ts.Limits.RequestBudget = 5
	if err := r.Apply(context.Background(), Spec{Runtime: testRuntime, Modules: modules(t), Tenants: []TenantSpec{ts}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the over-budget sync to fail", func() bool {
		return counter(t, m, "baton_runner_syncs_total", map[string]string{"tenant": "thrifty", "result": "failure"}) >= 1
	})
	// The sync's validation of the credentials, before the sync starts,
	// is a call of its own with a budget of its own: one request.
	if n := counter(t, m, "baton_runner_api_requests_total", map[string]string{"tenant": "thrifty"}); n > 5+1 {
		t.Errorf("%v requests sent on a budget of 5 (plus validation's 1)", n)
	}
	if _, err := os.Stat(ts.Output); err == nil {
		t.Error("a sync that ran out of budget wrote its c1z")
	}
}

// TestCancelIsNotAFailure: a tenant stopped mid-sync by a reload, and
// then the runner stopped, count no failed sync and no restart, and log
// no failure.
func TestCancelIsNotAFailure(t *testing.T) {
	arrived := make(chan struct{}, 1)
	sim := segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(20)), segmentsim.Options{Latency: time.Hour})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		sim.ServeHTTP(w, r) // held until the client gives up
	}))
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	core, logs := observer.New(zap.InfoLevel)
	m := NewMetrics()
	r := New(Options{Logger: zap.New(core), Metrics: m, RestartBackoff: time.Millisecond})
	tenant := syncTenant("busy", ts.URL, dir)
	spec := Spec{Runtime: testRuntime, Modules: modules(t), Tenants: []TenantSpec{tenant}}
	if err := r.Apply(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	wait := func(what string) {
		t.Helper()
		select {
		case <-arrived:
		case <-time.After(time.Minute):
			t.Fatalf("no API request %s", what)
		}
	}
	wait("from the first sync")
	tenant.Interval = time.Hour // a reload that restarts the tenant mid-sync
	spec.Tenants = []TenantSpec{tenant}
	if err := r.Apply(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	wait("from the sync after the reload")
	r.Stop(context.Background())

	labels := map[string]string{"tenant": "busy"}
	if n := counter(t, m, "baton_runner_syncs_total", labels); n != 0 {
		t.Errorf("%v syncs counted; both were cancelled, none failed", n)
	}
	if n := counter(t, m, "baton_runner_tenant_restarts_total", labels); n != 0 {
		t.Errorf("%v restarts counted for a tenant that was stopped", n)
	}
	// (The sandbox's own log of the interrupted guest call is its business.)
	if n := logs.FilterMessage("tenant failed; restarting").Len(); n != 0 {
		t.Errorf("a stopped tenant was logged as failed %d times", n)
	}
}

// TestSleepingTenantCannotStarveItsNeighbour: with a single sync slot, a
// guest that sleeps inside every call (WASI poll_oneoff, where no wasm
// runs for close-on-done to stop) holds the slot only until its call
// deadline; the healthy tenant queued behind it still syncs, again and
// again.
func TestSleepingTenantCannotStarveItsNeighbour(t *testing.T) {
	url, dir := simURL(t), t.TempDir()
	m := NewMetrics()
	r := New(Options{Metrics: m, RestartBackoff: 50 * time.Millisecond, MaxRestartBackoff: 200 * time.Millisecond})
	defer r.Stop(context.Background())
	rt := testRuntime
	rt.CallTimeout = 2 * time.Second
	spec := Spec{Runtime: rt, MaxConcurrentSyncs: 1, Modules: modules(t), Tenants: []TenantSpec{
		hostile("sleeper", "sleep", url, dir), syncTenant("neighbour", url, dir),
	}}
	if err := r.Apply(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	// Without the deadline-aware sleep the sleeper's first call holds the
	// only slot for ten minutes and the neighbour never syncs.
	waitFor(t, 2*time.Minute, "three syncs of the neighbour and two stopped sleeps", func() bool {
		return counter(t, m, "baton_runner_syncs_total", map[string]string{"tenant": "neighbour", "result": "success"}) >= 3 &&
			counter(t, m, "baton_runner_guest_traps_total", map[string]string{"tenant": "sleeper", "kind": "timeout"}) >= 2
	})
	if n := counter(t, m, "baton_runner_syncs_total", map[string]string{"tenant": "neighbour", "result": "failure"}); n != 0 {
		t.Errorf("the neighbour failed %v syncs next to the sleeper", n)
	}
	// Every sync that started waited for the one slot, and the neighbour
	// queued behind the sleeper at least once, for its whole call timeout.
	r.Stop(context.Background())
	h := histogram(t, m, "baton_runner_sync_wait_seconds")
	started := counter(t, m, "baton_runner_syncs_total", nil)
	over1s := h.GetSampleCount()
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() < 1 {
			over1s = h.GetSampleCount() - b.GetCumulativeCount()
		}
	}
	if float64(h.GetSampleCount()) < started || over1s == 0 {
		t.Errorf("sync wait histogram: %d waits, %d of them over 1s; want one per sync (%v) and one behind the sleeper's %s call",
			h.GetSampleCount(), over1s, started, rt.CallTimeout)
	}
}

// TestNextSyncIsDueAnIntervalAfterItsStart: two tenants due together with
// one slot start one after the other, and each is due again an interval
// after it started. Were the second due an interval after it first became
// due, both would be due together again, the second queueing behind the
// first every round.
func TestNextSyncIsDueAnIntervalAfterItsStart(t *testing.T) {
	url, dir := simURL(t), t.TempDir()
	core, logs := observer.New(zap.InfoLevel)
	r := New(Options{Logger: zap.New(core)})
	defer r.Stop(context.Background())
	a, b := syncTenant("a", url, dir), syncTenant("b", url, dir)
	a.Interval, b.Interval = time.Hour, time.Hour
	spec := Spec{Runtime: testRuntime, MaxConcurrentSyncs: 1, Modules: modules(t), Tenants: []TenantSpec{a, b}}
	if err := r.Apply(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	completed := func() []observer.LoggedEntry { return logs.FilterMessage("sync complete").All() }
	waitFor(t, 2*time.Minute, "a sync of each tenant", func() bool { return len(completed()) == 2 })
	first, second := completed()[0], completed()[1]
	next, ok := second.ContextMap()["next"].(time.Time)
	if !ok {
		t.Fatalf("%q logged no next time: %v", second.Message, second.ContextMap())
	}
	// The second started once the first had completed, and the first
	// completed after both became due.
	if next.Before(first.Time.Add(time.Hour)) {
		t.Errorf("%s is next due at %s, less than an interval after %s completed (%s): due from when it became due, not from its start",
			second.ContextMap()["tenant"], next.Format(time.RFC3339Nano), first.ContextMap()["tenant"], first.Time.Format(time.RFC3339Nano))
	}
}
