package waitlog

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/baton-runner/baton-runner/host/egress"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLog(interval time.Duration) (*Log, *clock, *observer.ObservedLogs) {
	core, logs := observer.New(zap.InfoLevel)
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	l := New(zap.New(core), interval)
	l.now = c.now
	return l, c, logs
}

// TestFailuresAnnouncedOnceTheyAddUp: retries whose waits are each well
// under egress.NotableWait are announced once they have held the tenant for
// that long in total, then at most once an interval, and the answer that
// ends them says so; a short run is not announced at all.
func TestFailuresAnnouncedOnceTheyAddUp(t *testing.T) {
	l, c, logs := newTestLog(30 * time.Second)
	retry := func(wait time.Duration) {
		c.advance(500 * time.Millisecond) // the failed attempt
		l.Wait(egress.Wait{Kind: egress.WaitRetry, Method: "GET", Path: "/", Reason: "retry after HTTP 503", Wait: wait, AttemptTook: 500 * time.Millisecond})
		c.advance(wait)
	}
	ok := egress.Record{Method: "GET", Path: "/users", Status: 200}

	retry(200 * time.Millisecond)
	retry(400 * time.Millisecond)
	l.Record(ok)
	if n := logs.Len(); n != 0 {
		t.Fatalf("a run of failures shorter than %s logged %d lines: %v", egress.NotableWait, n, logs.All())
	}

	for _, w := range []time.Duration{200, 400, 800, 1600} {
		retry(w * time.Millisecond)
	}
	// The request fails after its retries; the connector retries it.
	c.advance(500 * time.Millisecond)
	l.Record(egress.Record{Method: "GET", Path: "/", Error: "GET /: HTTP 503", Attempts: 5})
	lines := logs.FilterMessage("API requests are failing; retrying").All()
	if len(lines) != 1 {
		t.Fatalf("%d lines for a run of failures adding up to %s, want 1: %v", len(lines), 5*time.Second, logs.All())
	}
	if f := lines[0].ContextMap(); f["failed_attempts"] != int64(4) || f["reason"] != "retry after HTTP 503" {
		t.Errorf("announcement %v; want it at the 4th failed attempt, with its reason", f)
	}

	c.advance(30 * time.Second)
	retry(time.Second)
	if n := len(logs.FilterMessage("API requests are failing; retrying").All()); n != 2 {
		t.Errorf("%d announcements after an interval more of failures, want 2", n)
	}
	l.Record(egress.Record{Method: "GET", Path: "/", Status: 429})
	l.Record(egress.Record{Method: "GET", Path: "/", Denied: "not the origin"})
	if logs.FilterMessage("API requests succeed again").Len() != 0 {
		t.Error("a 429 or a refusal ended the run of failures")
	}
	l.Record(ok)
	end := logs.FilterMessage("API requests succeed again").All()
	if len(end) != 1 || end[0].ContextMap()["failed_attempts"] != int64(6) {
		t.Errorf("end of the run: %v; want one line counting its 6 failed attempts", end)
	}
}

// TestHoldsAreOneLineAnInterval: a sync paced all along logs one line once
// its requests have been held egress.NotableWait, then one an interval
// and one at its end, each with the requests held by reason and the wall
// time held; a single wait that long is told before it is made.
func TestHoldsAreOneLineAnInterval(t *testing.T) {
	l, c, logs := newTestLog(30 * time.Second)
	pace := func(n int) {
		for range n {
			l.Wait(egress.Wait{Kind: egress.WaitPacing, Reason: "request pacing (requests_per_minute)", Wait: 100 * time.Millisecond})
			c.advance(100 * time.Millisecond)
			l.Held(100 * time.Millisecond)
		}
	}
	lines := func() []map[string]any {
		var out []map[string]any
		for _, e := range logs.FilterMessage("requests held by rate limits").All() {
			out = append(out, e.ContextMap())
		}
		return out
	}
	pace(600) // a minute
	l.Flush()
	got := lines()
	if len(got) != 3 {
		t.Fatalf("%d lines for a minute of pacing with a 30s interval, want 3 (at 3s, after 30s more, at the end): %v", len(got), got)
	}
	if got[0]["requests"] != int64(30) || got[0]["held_for"] != 3*time.Second {
		t.Errorf("first line %v; want it once 30 requests were held 3s", got[0])
	}
	total := int64(0)
	for _, g := range got {
		total += g["requests"].(int64)
	}
	if total != 600 {
		t.Errorf("the lines count %d requests held, want 600", total)
	}

	logs.TakeAll()
	c.advance(time.Minute)
	l.Wait(egress.Wait{Kind: egress.WaitRateLimit, Reason: "rate limited by the API (HTTP 429)", Wait: 3200 * time.Millisecond})
	if got := lines(); len(got) != 1 || got[0]["held_for"] != 3200*time.Millisecond {
		t.Fatalf("a 3.2s wait: %v; want one line before it", got)
	}
	for range 31 { // the tenant's other requests, held with it
		l.Wait(egress.Wait{Kind: egress.WaitRateLimit, Reason: "rate limited by the API (HTTP 429); the tenant's reads wait together", Wait: 3200 * time.Millisecond})
	}
	c.advance(3200 * time.Millisecond)
	l.Held(3200 * time.Millisecond)
	l.Flush()
	if got := lines(); len(got) != 1 {
		t.Errorf("the wait counted again at the end: %v", got)
	}
}
