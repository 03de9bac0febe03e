package egress

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// gate decides when an attempt may go on the wire, so that requests in
// parallel never turn into a storm of 429s:
//   - at most limit attempts at once. limit starts at the tenant's
//     max_in_flight, halves on every 429 and grows back by one after limit
//     answered attempts in a row (additive increase, multiplicative
//     decrease, as TCP does with its window);
//   - after a 429 no request of its class sends until its wait
//     (msBeforeNext, ...) is over: the API said so for the token, not for
//     one request;
//   - when a class's window is used up (X-RateLimit-Remaining, less what
//     was sent since, reaches 0) no request of the class sends until
//     X-RateLimit-Reset.
//
// The API counts writes apart from reads (Segment: 60 IAM writes a minute
// in a window of their own, reads under the default limit; segmentsim does
// the same), so each class has its own window: a write's answer describes
// the write window, and with one window its later reset would hold reads
// for up to a minute whenever provisioning overlaps a sync. A 429 pauses
// its own class for the same reason: it says that class's window is
// spent. Should the other class share the limit that was hit, it finds
// out with one 429 of its own, which then pauses it; pausing both on every
// 429 would stall a sync's reads each time provisioning trips the write
// limit.
//
// A slot is held for the attempt only: waits (pacing, 429, back-off)
// release it. A zero max means no bound on attempts; the rate-limit waits
// apply all the same.
type gate struct {
	max     int
	maxRL   time.Duration // longer window waits are left to the 429 path
	mu      sync.Mutex
	limit   int
	busy    int
	streak  int // answered attempts since the limit last changed
	classes [2]classLimit
	changed chan struct{} // closed when a slot frees
}

// rateClass is a request's class in the API's rate limits, told by its
// method as the write pacer tells writes (writeMethods).
type rateClass int

const (
	reads rateClass = iota
	writes
)

func classOf(method string) rateClass {
	if writeMethods[method] {
		return writes
	}
	return reads
}

func (c rateClass) String() string {
	if c == writes {
		return "writes"
	}
	return "reads"
}

// classLimit is what the gate knows of one class's rate limit.
type classLimit struct {
	inFlight int // the class's attempts on the wire
	// remaining estimates the window's requests left: the API's last
	// count, less the attempts sent since. Known only while window is.
	remaining int
	window    time.Time // the window's end as the API states it (its clock)
	resetAt   time.Time // the same instant on our clock
	pausedTo  time.Time
}

func newGate(max int, maxRL time.Duration) *gate {
	return &gate{max: max, maxRL: maxRL, limit: max, changed: make(chan struct{})}
}

// holdUntil is a reason to wait before sending: until when, and why.
// after429 marks the wait a 429 named, which the caller bounds as it
// bounds its own 429s.
type holdUntil struct {
	until    time.Time
	reason   string
	after429 bool
}

// acquire takes a slot for an attempt of class c. When the API asked the
// class to wait it returns that wait instead (ok false): the caller sleeps
// it, telling OnWait why, and asks again. The clock is read at each look,
// under the lock: waiting for a slot can outlast the holds that were in
// force when it began.
func (g *gate) acquire(ctx context.Context, c rateClass, clock func() time.Time) (hold holdUntil, ok bool, err error) {
	l := &g.classes[c]
	for {
		g.mu.Lock()
		now := clock()
		switch {
		case now.Before(l.pausedTo):
			hold = holdUntil{l.pausedTo, "rate limited by the API (HTTP 429); the tenant's " + c.String() + " wait together", true}
		case !l.window.IsZero() && l.remaining <= 0 && now.Before(l.resetAt):
			hold = holdUntil{l.resetAt, "the API's rate-limit window for " + c.String() + " is used up (X-RateLimit-Remaining); waiting for X-RateLimit-Reset", false}
		case g.max <= 0 || g.busy < g.limit:
			if !l.window.IsZero() && !now.Before(l.resetAt) {
				l.window = time.Time{} // a new window, of unknown size until an answer says
			}
			g.busy++
			l.inFlight++
			l.remaining--
			g.mu.Unlock()
			return holdUntil{}, true, nil
		default:
			changed := g.changed
			g.mu.Unlock()
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return holdUntil{}, false, ctx.Err()
			}
		}
		g.mu.Unlock()
		return hold, false, nil
	}
}

// release frees the slot of an attempt of class c and learns from its
// answer, whose headers arrived at at: status 0 means no answer (a
// transport error), which teaches nothing. A 429 stops every request of
// the class until pauseUntil, its wait, whether or not the request itself
// waits it out; the pause is set before waiters are woken, so none of them
// slips through.
func (g *gate) release(c rateClass, status int, h http.Header, at, pauseUntil time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := &g.classes[c]
	g.busy--
	l.inFlight--
	switch {
	case status == http.StatusTooManyRequests:
		if pauseUntil.After(l.pausedTo) {
			l.pausedTo = pauseUntil
		}
		g.limit = max(1, g.limit/2)
		g.streak = 0
	case status != 0:
		if g.streak++; g.streak >= g.limit && g.limit < g.max {
			g.limit++
			g.streak = 0
		}
		l.learnWindow(h, at, g.maxRL)
	}
	g.wake()
}

// learnWindow reads X-RateLimit-Remaining and X-RateLimit-Reset from an
// answer whose headers arrived at at. The reset is converted to our clock
// through the response's Date, so a skewed server clock does not stretch
// or skip the wait. A later reset starts a new window, less the class's
// attempts still on the wire (the API may or may not have counted them:
// counting them errs on the side of no 429); within one, the lower count
// wins (answers arrive out of order, and attempts sent since are already
// subtracted). Windows longer than maxRL are left to the 429 path.
func (l *classLimit) learnWindow(h http.Header, at time.Time, maxRL time.Duration) {
	rem, err := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining")))
	if err != nil || rem < 0 {
		return
	}
	reset, ok := parseDate(h.Get("X-RateLimit-Reset"))
	if !ok {
		return
	}
	in := reset.Sub(at)
	if date, ok := parseDate(h.Get("Date")); ok {
		in = reset.Sub(date)
	}
	// The dates have one-second resolution (Date truncated, the reset
	// rounded up), so a window as long as the longest wait reads up to two
	// seconds longer.
	if in <= 0 || in > maxRL+2*time.Second {
		return
	}
	switch {
	case l.window.IsZero() || reset.After(l.window):
		l.window, l.resetAt, l.remaining = reset, at.Add(in), rem-l.inFlight
	case reset.Equal(l.window):
		l.remaining = min(l.remaining, rem)
	}
}

func (g *gate) wake() {
	close(g.changed)
	g.changed = make(chan struct{})
}
