// Package waitlog turns a tenant's egress events into the few log lines an
// operator reads to know why a sync is slow or silent. The egress client
// reports every wait and every request; logging each of them buried a
// sync's log under one line per paced request, while waits each shorter
// than a few seconds added up to long silences. Here a run of failed
// attempts is announced once it has held the tenant's requests for
// egress.NotableWait in total, however short each retry's wait.
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
	// A run of failures: failed attempts not yet ended by an answer of the
	// API. since is zero between runs.
	since     time.Time
	failures  int
	request   string
	reason    string
	announced time.Time // the run's last line; zero before it has one
}

// New returns a Log writing to log, with at most one line per interval
// about a run of failures that goes on.
func New(log *zap.Logger, interval time.Duration) *Log {
	return &Log{log: log, interval: interval, now: time.Now}
}

// Wait takes the egress client's OnWait.
func (l *Log) Wait(w egress.Wait) {
	if w.Kind != egress.WaitRetry {
		if w.Notable() {
			l.log.Info("waiting before an API request", zap.String("request", w.Method+" "+w.Path),
				zap.String("reason", w.Reason), zap.Duration("wait", w.Wait), zap.Int("attempt", w.Attempt))
		}
		return
	}
	l.failed(w.Method+" "+w.Path, w.Reason, w.AttemptTook, w.Wait)
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
