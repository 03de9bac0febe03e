package egress

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
)

const (
	// maxRateLimitRetries bounds the host-side retries after a 429; the
	// real bound is the total wait (rateLimitWaits × MaxRateLimitWait), this
	// only stops a server that asks for no wait at all from looping.
	maxRateLimitRetries = 100
	// rateLimitWaits is how many single waits of MaxRateLimitWait a
	// request may spend waiting out 429s in total: a storm of short waits
	// is ridden out, a limit that keeps resetting far ahead is handed back
	// to the guest (and baton-sdk) as rate_limited.
	rateLimitWaits = 5
	// maxWait caps parsed waits so absurd values cannot overflow a Duration.
	maxWait = 24 * time.Hour
)

// rateLimitWait returns how long a 429 asks to wait. Sources, most precise
// first (Segment's Rate Limits page, docs.segmentapis.com): the body's errors[0].data.msBeforeNext, the
// X-RateLimit-Reset date, Retry-After (seconds or a date). A source counts
// only if it parses to a positive wait; a reset date already in the past
// (clock skew) falls through to the next source. exact says the wait came
// from msBeforeNext, to the millisecond; the others have the dates'
// second. ok is false when no source gives a wait: then the caller backs
// off (rateLimitBase, doubling).
func rateLimitWait(body []byte, h http.Header, now time.Time) (d time.Duration, exact, ok bool) {
	if d, ok := msBeforeNext(body); ok {
		return d, true, true
	}
	if t, ok := parseDate(h.Get("X-RateLimit-Reset")); ok {
		if d := t.Sub(now); d > 0 {
			return min(d, maxWait), false, true
		}
	}
	d, ok = retryAfter(h.Get("Retry-After"), now)
	return d, false, ok
}

// msBeforeNext reads Segment's 429 body:
// {"errors":[{"data":{"msBeforeNext":41250}}]}.
func msBeforeNext(body []byte) (time.Duration, bool) {
	var v struct {
		Errors []struct {
			Data struct {
				MsBeforeNext *float64 `json:"msBeforeNext"`
			} `json:"data"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &v) != nil || len(v.Errors) == 0 {
		return 0, false
	}
	ms := v.Errors[0].Data.MsBeforeNext
	if ms == nil || !(*ms > 0) {
		return 0, false
	}
	if *ms >= float64(maxWait/time.Millisecond) {
		return maxWait, true
	}
	return time.Duration(*ms * float64(time.Millisecond)), true
}

// retryAfter parses Retry-After as delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0, false
		}
		if secs >= int64(maxWait/time.Second) {
			return maxWait, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, ok := parseDate(v); ok {
		if d := t.Sub(now); d > 0 {
			return min(d, maxWait), true
		}
	}
	return 0, false
}

// parseDate accepts the HTTP date forms plus RFC 5322's numeric zone
// ("Mon, 02 Jan 2006 15:04:05 +0000"), which X-RateLimit-Reset may use.
func parseDate(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	if t, err := http.ParseTime(v); err == nil {
		return t, true
	}
	for _, layout := range []string{time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700", time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// jitter is the back-offs' randomization factor: each wait is drawn from
// [0.5, 1.5] × the exponential step, so that requests (and tenants) that
// failed together do not retry in lockstep and hit a recovering API at once.
const jitter = 0.5

// expBackOff waits first, then doubling, each wait jittered and capped at
// limit (the library caps the step but not the jittered wait).
type expBackOff struct {
	b     backoff.ExponentialBackOff
	limit time.Duration
}

func newBackOff(first, limit time.Duration) *expBackOff {
	e := &expBackOff{b: backoff.ExponentialBackOff{
		InitialInterval: first, RandomizationFactor: jitter, Multiplier: 2, MaxInterval: limit,
	}, limit: limit}
	e.b.Reset()
	return e
}

func (e *expBackOff) next() time.Duration { return min(e.b.NextBackOff(), e.limit) }
