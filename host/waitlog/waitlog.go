// Package waitlog turns a tenant's egress events into the few log lines an
// operator reads to know why a sync is slow or silent. The egress client
// reports every wait and every request; logging each of them buried a
// sync's log under one line per paced request (359 of one tenant's 387
// lines), while waits each shorter than a few seconds added up to long
// silences. Here requests held by rate limits are one line an interval
// with counts, and a run of failed attempts is announced once it has held
// the tenant's requests for egress.NotableWait in total, however short
// each retry's wait.
package waitlog

import (
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/host/egress"
)

// Log reports one tenant's waits. It is safe for concurrent use.
type Log struct {
	log *zap.Logger
	// interval is the least time between two lines about one run of
	// failures.
	interval time.Duration
	now      func() time.Time

	mu sync.Mutex
	// Requests held by rate limits since the last line about them: how
	// many by reason, from when, and the wall time held (OnHeld's, less
	// credit, the part of a wait a line already counted ahead).
	heldBy       map[string]int
	heldFrom     time.Time
	held, credit time.Duration
	heldLine     time.Time // the last line about holds
	// A run of failures: failed attempts not yet ended by an answer of the
	// API. since is zero between runs.
	since     time.Time
	failures  int
	request   string
	reason    string
	announced time.Time // the run's last line; zero before it has one
}

// New returns a Log writing to log at most one line per interval about
// requests held by rate limits, and about a run of failures that goes on.
// An interval under egress.NotableWait is taken as that: a line for each
// wait of requests held together says nothing the first did not.
func New(log *zap.Logger, interval time.Duration) *Log {
	return &Log{log: log, interval: max(interval, egress.NotableWait), now: time.Now, heldBy: map[string]int{}}
}

// Wait takes the egress client's OnWait.
func (l *Log) Wait(w egress.Wait) {
	if w.Kind == egress.WaitRetry {
		l.failed(w.Method+" "+w.Path, w.Reason, w.AttemptTook, w.Wait)
		return
	}
	l.mu.Lock()
	now := l.now()
	if len(l.heldBy) == 0 {
		l.heldFrom = now
	}
	l.heldBy[w.Reason]++
	// A wait long enough on its own is told before it is made, so that
	// the silence it causes is explained while it lasts.
	due := l.held+w.Wait >= egress.NotableWait && (l.heldLine.IsZero() || now.Sub(l.heldLine) >= l.interval)
	var line []zap.Field
	if due {
		line = l.heldLineLocked(now, w.Wait)
		l.credit = w.Wait
	}
	l.mu.Unlock()
	if line != nil {
		l.log.Info("requests held by rate limits", line...)
	}
}

// Held takes the egress client's OnHeld.
func (l *Log) Held(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := min(l.credit, d)
	l.credit -= c
	l.held += d - c
}

// Flush logs what was held since the last line, if it adds up to
// egress.NotableWait, and starts counting anew: the end of a sync.
func (l *Log) Flush() {
	l.mu.Lock()
	var line []zap.Field
	if l.held >= egress.NotableWait {
		line = l.heldLineLocked(l.now(), 0)
	}
	// What is left is too little to tell, and not the next sync's.
	l.heldBy, l.held, l.credit = map[string]int{}, 0, 0
	l.mu.Unlock()
	if line != nil {
		l.log.Info("requests held by rate limits", line...)
	}
}

// heldLineLocked returns the fields of a line about the holds so far,
// ahead counting a wait about to start, and starts counting anew.
func (l *Log) heldLineLocked(now time.Time, ahead time.Duration) []zap.Field {
	requests := 0
	for _, n := range l.heldBy {
		requests += n
	}
	line := []zap.Field{zap.Int("requests", requests), zap.Any("reasons", l.heldBy),
		zap.Duration("held_for", (l.held + ahead).Round(100*time.Millisecond)),
		zap.Duration("over", (now.Sub(l.heldFrom) + ahead).Round(100*time.Millisecond))}
	l.heldBy, l.held, l.heldLine = map[string]int{}, 0, now
	return line
}

// Record takes each of the egress client's audit records: a request that
// failed after its retries continues a run of failures (the connector or
// baton-sdk may retry it), one the API answered ends it.
func (l *Log) Record(r egress.Record) {
	switch {
	case r.Denied != "" || r.Status == 429:
		// Refusals are reported as such; 429s are rate limiting.
	case r.Error != "":
		l.failed(r.Method+" "+r.Path, r.Error, r.Duration, 0)
	case r.Status >= 500:
		l.failed(r.Method+" "+r.Path, fmt.Sprintf("HTTP %d", r.Status), r.Duration, 0)
	case r.Status > 0:
		l.answered()
	}
}

// failed counts a failed attempt that took took and is retried after next
// (0: not known here).
func (l *Log) failed(request, reason string, took, next time.Duration) {
	l.mu.Lock()
	now := l.now()
	if l.since.IsZero() {
		l.since = now.Add(-took)
	}
	l.failures++
	l.request, l.reason = request, reason
	held := now.Sub(l.since)
	due := held+next >= egress.NotableWait && (l.announced.IsZero() || now.Sub(l.announced) >= l.interval)
	if due {
		l.announced = now
	}
	failures := l.failures
	l.mu.Unlock()
	if due {
		l.log.Warn("API requests are failing; retrying", zap.String("request", request), zap.String("reason", reason),
			zap.Int("failed_attempts", failures), zap.Duration("failing_for", held.Round(100*time.Millisecond)),
			zap.Duration("next_retry_in", next.Round(100*time.Millisecond)))
	}
}

// answered ends a run of failures, saying so if it was announced.
func (l *Log) answered() {
	l.mu.Lock()
	if l.since.IsZero() {
		l.mu.Unlock()
		return
	}
	announced, failures, held := !l.announced.IsZero(), l.failures, l.now().Sub(l.since)
	l.since, l.failures, l.announced = time.Time{}, 0, time.Time{}
	l.mu.Unlock()
	if announced {
		l.log.Info("API requests succeed again", zap.Int("failed_attempts", failures), zap.Duration("failed_for", held.Round(100*time.Millisecond)))
	}
}
