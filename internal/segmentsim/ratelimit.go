package segmentsim

import (
	"cmp"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// rateClass separates the documented 60/min IAM writes from everything else.
type rateClass int

const (
	classRead rateClass = iota
	classWrite
)

const defaultRateWindow = time.Minute

// defaultWriteLimit is the documented limit of the IAM write endpoints.
const defaultWriteLimit = 60

// isIAMWrite reports whether method+path is one of the endpoints
// Segment's Rate Limits page lists with the lower 60/min limit. It classifies by
// shape, so the class is known even for ids that do not exist.
func isIAMWrite(method string, segs []string) bool {
	in := func(ms ...string) bool {
		for _, m := range ms {
			if method == m {
				return true
			}
		}
		return false
	}
	switch len(segs) {
	case 1:
		switch segs[0] {
		case "users":
			return in(http.MethodDelete)
		case "invites":
			return in(http.MethodPost, http.MethodDelete)
		case "groups":
			return in(http.MethodPost)
		}
	case 2:
		return segs[0] == "groups" && in(http.MethodPatch, http.MethodDelete)
	case 3:
		switch {
		case segs[2] == "permissions" && (segs[0] == "users" || segs[0] == "groups"):
			return in(http.MethodPost, http.MethodPut)
		case segs[0] == "groups" && segs[2] == "users":
			return in(http.MethodPost)
		case segs[0] == "group" && segs[2] == "users":
			return in(http.MethodDelete, http.MethodPut)
		}
	}
	return false
}

// rateLimiter is a fixed-window counter per (token, class). Like the
// rate-limiter-flexible library whose field names Segment's 429 body uses,
// a window starts at the first request and lasts one minute (or
// Options.RateWindow); the limits count per window.
type rateLimiter struct {
	mu      sync.Mutex
	limits  [2]int // ≤0 = unlimited
	windows map[rateKey]*rateWindowState
	window  time.Duration
	now     func() time.Time
}

type rateKey struct {
	token string
	class rateClass
}

type rateWindowState struct {
	start    time.Time
	consumed int
}

// rateDecision is the outcome of one request against the limiter.
type rateDecision struct {
	limited  bool // the class has a limit, so headers are sent
	allowed  bool
	limit    int
	consumed int
	reset    time.Time
	now      time.Time
}

func newRateLimiter(opts Options) *rateLimiter {
	write := opts.WriteLimitPerMinute
	if write == 0 {
		write = defaultWriteLimit
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &rateLimiter{
		limits:  [2]int{max(0, opts.ReadLimitPerMinute), max(0, write)},
		windows: map[rateKey]*rateWindowState{},
		window:  cmp.Or(opts.RateWindow, defaultRateWindow),
		now:     now,
	}
}

// take counts one request. Rejected requests are not counted, so the 429
// body reports consumedPoints equal to the limit, as in the documented
// example.
func (l *rateLimiter) take(token string, c rateClass) rateDecision {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := rateKey{token, c}
	w := l.windows[k]
	if w == nil || !now.Before(w.start.Add(l.window)) {
		w = &rateWindowState{start: now}
		l.windows[k] = w
	}
	limit := l.limits[c]
	d := rateDecision{limited: limit > 0, limit: limit, reset: w.start.Add(l.window), now: now, allowed: true}
	if limit > 0 && w.consumed >= limit {
		d.allowed = false
	} else {
		w.consumed++
	}
	d.consumed = w.consumed
	return d
}

// current reports the points used in the current window (for injected 429s).
func (l *rateLimiter) current(token string, c rateClass) (int, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if w := l.windows[rateKey{token, c}]; w != nil && now.Before(w.start.Add(l.window)) {
		return w.consumed, now
	}
	return 0, now
}

// setRateHeaders writes the documented X-RateLimit-* headers as of now.
// The reset date has one-second resolution; it is rounded up so that a
// client sleeping until it is never early. Date is set from the same
// clock (net/http would use the wall clock), since clients convert the
// reset to their own clock through it.
func setRateHeaders(h http.Header, now time.Time, consumed, remaining int, reset time.Time) {
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	h.Set("X-RateLimit-Consumed", strconv.Itoa(consumed))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, remaining)))
	h.Set("X-RateLimit-Reset", reset.Add(time.Second-1).Truncate(time.Second).UTC().Format(http.TimeFormat))
}

// writeTooManyRequests writes the 429 body of the Rate-Limits page plus a
// Retry-After header (not documented, but harmless and common).
func writeTooManyRequests(w http.ResponseWriter, msBeforeNext int64, consumed int) {
	w.Header().Set("Retry-After", strconv.FormatInt(max(1, (msBeforeNext+999)/1000), 10))
	writeErrors(w, http.StatusTooManyRequests, apiError{
		Type:    "RequestError",
		Message: "Too many requests",
		Data: map[string]any{
			"remainingPoints": 0,
			"msBeforeNext":    msBeforeNext,
			"consumedPoints":  consumed,
		},
	})
}

// msUntil rounds up so a client sleeping msBeforeNext is never early.
func msUntil(now, t time.Time) int64 {
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
