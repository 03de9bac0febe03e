package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/localsync"
)

// stderr is where logs and the terminal progress line go. Log lines are
// written above the progress line, which is redrawn after them, rather
// than through it.
var stderr = &statusWriter{w: os.Stderr}

type statusWriter struct {
	mu   sync.Mutex
	w    io.Writer
	line string // the progress line on screen, "" if none
}

func (s *statusWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line != "" {
		fmt.Fprint(s.w, "\r\033[K")
	}
	n, err := s.w.Write(p)
	if s.line != "" {
		fmt.Fprint(s.w, s.line)
	}
	return n, err
}

func (s *statusWriter) Sync() error { return nil }

// setLine draws (or with "" clears) the progress line.
func (s *statusWriter) setLine(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprint(s.w, "\r\033[K"+line)
	s.line = line
}

var phaseNames = map[string]string{
	"list-resources":    "resources",
	"list-entitlements": "entitlements",
	"list-grants":       "grants",
}

// syncReport follows a sync: what it has listed, its requests, retries and
// waits. On a terminal it keeps a progress line; otherwise it logs a
// progress line at each phase and every interval. At the end it prints a
// summary.
type syncReport struct {
	logger   *zap.Logger
	term     bool
	interval time.Duration
	start    time.Time

	mu                       sync.Mutex
	phase                    string
	listed                   map[string]int // phase → items
	requests, retries, waits int
	// waited is wall time with requests held by rate limits: requests
	// held together count once.
	waited             time.Duration
	lastLine, lastDraw time.Time
}

func newSyncReport(logger *zap.Logger, term bool, interval time.Duration) *syncReport {
	now := time.Now()
	return &syncReport{logger: logger, term: term, interval: interval, start: now, lastLine: now, listed: map[string]int{}}
}

// update takes the syncer's progress: one stored page.
func (r *syncReport) update(pr *localsync.Progress) {
	phase, ok := phaseNames[pr.Action]
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listed[phase] += int(pr.Count)
	changed := phase != r.phase
	r.phase = phase
	now := time.Now()
	switch {
	case r.term && (changed || now.Sub(r.lastDraw) > 100*time.Millisecond):
		r.lastDraw = now
		stderr.setLine(r.lineLocked(now))
	case !r.term && (changed || now.Sub(r.lastLine) >= r.interval):
		r.lastLine = now
		r.logger.Info("sync progress", zap.String("phase", phase), zap.Int("resources", r.listed["resources"]),
			zap.Int("entitlements", r.listed["entitlements"]), zap.Int("grants", r.listed["grants"]),
			zap.Int("requests", r.requests), zap.Duration("elapsed", now.Sub(r.start).Round(time.Second)))
	}
}

func (r *syncReport) lineLocked(now time.Time) string {
	return fmt.Sprintf("syncing %s · listed %d resources, %d entitlements, %d grants · %d requests · %s",
		r.phase, r.listed["resources"], r.listed["entitlements"], r.listed["grants"], r.requests, now.Sub(r.start).Round(time.Second))
}

// record counts an API request from its audit record.
func (r *syncReport) record(rec egress.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	r.retries += max(rec.Attempts-1, 0)
}

// wait counts a wait the egress client makes.
func (r *syncReport) wait(egress.Wait) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits++
}

// held adds wall time during which requests were held by rate limits.
func (r *syncReport) held(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waited += d
}

// done removes the progress line.
func (r *syncReport) done() {
	if r.term {
		stderr.setLine("")
	}
}

// summary prints what the sync stored, per type, with its duration,
// requests, retries and waits, and logs the same as "sync complete".
// Grants are counted as the c1z holds them: those the connector listed and
// those baton-sdk expanded through group membership.
func (r *syncReport) summary(ctx context.Context, w io.Writer, file string) error {
	r.mu.Lock()
	took := time.Since(r.start).Round(time.Millisecond)
	requests, retries, waits, waited := r.requests, r.retries, r.waits, r.waited.Round(time.Millisecond)
	r.mu.Unlock()
	sum, err := inspect.Summarize(ctx, file, "")
	if err != nil {
		return err
	}
	r.logger.Info("sync complete", zap.String("file", file), zap.Duration("took", took),
		zap.Int("resources", sum.Resources), zap.Int("entitlements", sum.Entitlements),
		zap.Int("grants", sum.Grants), zap.Int("grants_through_groups", sum.Expanded),
		zap.Int("requests", requests), zap.Int("retries", retries), zap.Int("waits", waits), zap.Duration("held_by_rate_limits", waited))
	fmt.Fprintf(w, "%s: synced in %s; %d API requests, %d retries, %d waits (held by rate limits for %s)\n", file, took, requests, retries, waits, waited)
	if err := sum.Write(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "grants: %d listed by the connector, %d held through group membership\n", sum.Grants-sum.Expanded, sum.Expanded)
	return nil
}
