package main

// Reading a `baton-runner serve` run from its JSON log: when each tenant's
// syncs started, how long each waited before it started (the `waited`
// field of "sync started", slot and memory wait together), which
// completed, and the errors and volume of the log.

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// serveLog aggregates the lines of one serve run; add is safe to call
// while the other methods read.
type serveLog struct {
	mu        sync.Mutex
	starts    map[string][]time.Time // by tenant, in log order
	completed map[string]int
	running   map[string]bool
	// waits of each tenant's first sync (serve's start: every tenant
	// due at once) and of the later ones, apart.
	firstWaits, laterWaits []time.Duration
	// errors are the lines logged at error level or above, warns at warn.
	errors, warns int
	firstError    string
	lines, bytes  int
}

func newServeLog() *serveLog {
	return &serveLog{starts: map[string][]time.Time{}, completed: map[string]int{}, running: map[string]bool{}}
}

// logLine is what serveLog reads of a line. zap's production encoder
// writes ts as Unix seconds and durations as seconds.
type logLine struct {
	TS     float64 `json:"ts"`
	Level  string  `json:"level"`
	Msg    string  `json:"msg"`
	Tenant string  `json:"tenant"`
	Waited float64 `json:"waited"`
}

// add reads one line; a line that is not JSON counts only toward the
// volume (serve writes nothing else there, but a panic would).
func (l *serveLog) add(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines++
	l.bytes += len(line) + 1
	var e logLine
	if json.Unmarshal(line, &e) != nil {
		return
	}
	switch e.Level {
	case "warn":
		l.warns++
	case "error", "dpanic", "panic", "fatal":
		l.errors++
		if l.firstError == "" {
			l.firstError = string(line)
		}
	}
	if e.Tenant == "" {
		return
	}
	switch e.Msg {
	case "sync started":
		sec, frac := math.Modf(e.TS)
		waited := time.Duration(e.Waited * float64(time.Second))
		if len(l.starts[e.Tenant]) == 0 {
			l.firstWaits = append(l.firstWaits, waited)
		} else {
			l.laterWaits = append(l.laterWaits, waited)
		}
		l.starts[e.Tenant] = append(l.starts[e.Tenant], time.Unix(int64(sec), int64(frac*1e9)))
		l.running[e.Tenant] = true
	case "sync complete":
		l.completed[e.Tenant]++
		l.running[e.Tenant] = false
	case "tenant failed; restarting":
		l.running[e.Tenant] = false
	}
}

// progress returns how many of tenants have completed at least syncs
// syncs, how many syncs run now and how many started in all.
func (l *serveLog) progress(tenants []string, syncs int) (done, running, started int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	started = len(l.firstWaits) + len(l.laterWaits)
	for _, t := range tenants {
		if l.completed[t] >= syncs {
			done++
		}
		if l.running[t] {
			running++
		}
	}
	return done, running, started
}

// schedule is how well serve kept its tenants' schedule in one run.
type schedule struct {
	Tenants int // tenants expected
	Syncs   int // syncs started
	MinDone int // fewest syncs completed by any tenant
	Gaps    int // pairs of consecutive starts of one tenant
	MaxGap  time.Duration
	GapOf   string // the tenant of MaxGap
	Late    int    // tenants with two starts more than lateSlack over the interval apart
	// First are the waits of each tenant's first sync, Later of the rest.
	First, Later waits
	Errors       int
	Warns        int
	Lines        int
	Bytes        int
	FirstErr     string
}

// waits are quantiles of the waits of some syncs.
type waits struct{ P50, P99, Max time.Duration }

func quantiles(w []time.Duration) waits {
	w = slices.Clone(w)
	slices.Sort(w)
	q := waits{P50: nearestRank(w, 0.50), P99: nearestRank(w, 0.99)}
	if len(w) > 0 {
		q.Max = w[len(w)-1]
	}
	return q
}

// lateSlack is how much more than the interval two starts of a tenant may
// be apart before it counts as late: serve makes a tenant due an interval
// after its last start, so every gap is the interval plus the second
// sync's wait, a few milliseconds when a slot is free.
const lateSlack = time.Second

// schedule summarizes the run for tenants against interval: a tenant is
// late when two consecutive sync starts are more than interval+lateSlack
// apart.
func (l *serveLog) schedule(tenants []string, interval time.Duration) schedule {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := schedule{Tenants: len(tenants), MinDone: math.MaxInt, Errors: l.errors, Warns: l.warns, Lines: l.lines, Bytes: l.bytes, FirstErr: l.firstError}
	for _, t := range tenants {
		s.MinDone = min(s.MinDone, l.completed[t])
		starts := l.starts[t]
		late := false
		for i := 1; i < len(starts); i++ {
			gap := starts[i].Sub(starts[i-1])
			s.Gaps++
			if gap > s.MaxGap {
				s.MaxGap, s.GapOf = gap, t
			}
			late = late || gap > interval+lateSlack
		}
		if late {
			s.Late++
		}
	}
	if len(tenants) == 0 {
		s.MinDone = 0
	}
	s.Syncs = len(l.firstWaits) + len(l.laterWaits)
	s.First, s.Later = quantiles(l.firstWaits), quantiles(l.laterWaits)
	return s
}

// nearestRank is the q-quantile of sorted by the nearest-rank method: the
// smallest value with at least q of the values at or below it.
func nearestRank(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// histQuantile estimates the q-quantile of a Prometheus histogram as
// PromQL's histogram_quantile does: linear within the bucket it falls in,
// the highest finite bound if it falls in +Inf.
func histQuantile(h *dto.Histogram, q float64) (float64, error) {
	b := h.GetBucket()
	if len(b) == 0 || h.GetSampleCount() == 0 {
		return 0, fmt.Errorf("histogram without samples")
	}
	sort.Slice(b, func(i, j int) bool { return b[i].GetUpperBound() < b[j].GetUpperBound() })
	rank := q * float64(h.GetSampleCount())
	lower, below := 0.0, 0.0
	for _, bk := range b {
		upper, count := bk.GetUpperBound(), float64(bk.GetCumulativeCount())
		if count >= rank {
			if math.IsInf(upper, 1) {
				return lower, nil
			}
			if count == below {
				return upper, nil
			}
			return lower + (upper-lower)*(rank-below)/(count-below), nil
		}
		lower, below = upper, count
	}
	return lower, nil // +Inf bucket missing: the highest bound
}
