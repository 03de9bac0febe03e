package main

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// logOf is a serve log as zap's JSON encoder writes it: ts in Unix
// seconds, waited in seconds.
func logOf(lines ...string) *serveLog {
	l := newServeLog()
	for _, line := range lines {
		l.add([]byte(line))
	}
	return l
}

func started(tenant string, ts, waited float64) string {
	return fmt.Sprintf(`{"level":"info","ts":%.3f,"msg":"sync started","tenant":%q,"waited":%g,"memory_reserved_mib":256}`, ts, tenant, waited)
}

func completed(tenant string, ts float64) string {
	return fmt.Sprintf(`{"level":"info","ts":%.3f,"msg":"sync complete","tenant":%q,"file":"/x.c1z","took":1.5}`, ts, tenant)
}

// TestServeLogSchedule: starts more than the interval and lateSlack apart
// make a tenant late, once however many of its gaps are; waits are
// quantiles of each tenant's first starts and of the later ones apart; a
// tenant that never synced counts toward the fewest syncs.
func TestServeLogSchedule(t *testing.T) {
	const t0 = 1_700_000_000.0
	l := logOf(
		`{"level":"info","ts":1700000000.0,"msg":"serving","listen":"127.0.0.1:9090"}`,
		started("a", t0, 0.5), completed("a", t0+1),
		started("b", t0+1, 1.5), completed("b", t0+2),
		started("a", t0+60.5, 0.1), completed("a", t0+61), // within lateSlack
		started("b", t0+67.5, 7.5), // 66.5 s after its first: late for 60 s
		`{"level":"error","ts":1700000070.0,"msg":"tenant failed; restarting","tenant":"b","reason":"upstream 503"}`,
		started("b", t0+70, 0), completed("b", t0+71),
		`{"level":"warn","ts":1700000071.0,"msg":"requests held by rate limits","tenant":"a"}`,
		`panic: not json`,
	)
	names := []string{"a", "b", "c"}
	s := l.schedule(names, time.Minute)
	want := schedule{Tenants: 3, Syncs: 5, MinDone: 0, Gaps: 3, MaxGap: 66500 * time.Millisecond, GapOf: "b", Late: 1,
		First:  waits{P50: 500 * time.Millisecond, P99: 1500 * time.Millisecond, Max: 1500 * time.Millisecond},
		Later:  waits{P50: 100 * time.Millisecond, P99: 7500 * time.Millisecond, Max: 7500 * time.Millisecond},
		Errors: 1, Warns: 1, Lines: 13}
	s.Bytes, s.FirstErr = 0, "" // checked below
	if s != want {
		t.Errorf("schedule:\n got %+v\nwant %+v", s, want)
	}
	if got := l.schedule(names, time.Minute).FirstErr; !strings.Contains(got, "upstream 503") {
		t.Errorf("first error %q, want the failure's line", got)
	}
	// b failed mid-sync and started again: neither b nor a runs now.
	if done, running, n := l.progress(names, 2); done != 2 || running != 0 || n != 5 {
		t.Errorf("progress: %d done, %d running, %d started; want 2, 0, 5", done, running, n)
	}
	l.add([]byte(started("c", t0+72, 0)))
	if done, running, _ := l.progress(names, 1); done != 2 || running != 1 {
		t.Errorf("progress with c syncing: %d done, %d running; want 2, 1", done, running)
	}
}

func TestNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Second)
	}
	for q, want := range map[float64]time.Duration{0.5: 100 * time.Second, 0.99: 198 * time.Second, 1: 200 * time.Second, 0: time.Second} {
		if got := nearestRank(d, q); got != want {
			t.Errorf("q=%v: %s, want %s", q, got, want)
		}
	}
	if nearestRank(nil, 0.99) != 0 {
		t.Error("no values: want 0")
	}
}

// TestHistQuantile: as PromQL's histogram_quantile, linear within the
// bucket, the highest finite bound in +Inf.
func TestHistQuantile(t *testing.T) {
	bucket := func(le float64, n uint64) *dto.Bucket {
		return &dto.Bucket{UpperBound: proto.Float64(le), CumulativeCount: proto.Uint64(n)}
	}
	h := &dto.Histogram{SampleCount: proto.Uint64(100), Bucket: []*dto.Bucket{bucket(1, 50), bucket(2, 90), bucket(4, 98), bucket(math.Inf(1), 100)}}
	for q, want := range map[float64]float64{0.25: 0.5, 0.5: 1, 0.7: 1.5, 0.94: 3, 0.99: 4} {
		got, err := histQuantile(h, q)
		if err != nil || math.Abs(got-want) > 1e-9 {
			t.Errorf("q=%v: %v (%v), want %v", q, got, err, want)
		}
	}
	if _, err := histQuantile(&dto.Histogram{}, 0.5); err == nil {
		t.Error("an empty histogram gave a quantile")
	}
}

func TestParseScenarios(t *testing.T) {
	got, err := parseScenarios("500x100@5m, 50x10000@20m")
	if err != nil || fmt.Sprint(got) != "[500x100@5m0s 50x10000@20m0s]" {
		t.Errorf("%v (%v)", got, err)
	}
	for _, bad := range []string{"", "500x100", "500@5m", "0x100@5m", "5x100@30s", "5xa@5m"} {
		if _, err := parseScenarios(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestIdlePerTenant(t *testing.T) {
	if got := idlePerTenantMiB(100<<20, 600<<20, 501); got != 1 {
		t.Errorf("500 MiB over 500 more tenants: %v MiB each, want 1", got)
	}
	if got := idlePerTenantMiB(100<<20, 100<<20, 1); got != 0 {
		t.Errorf("one tenant: %v, want 0", got)
	}
}
