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
//   - after a 429 nobody sends until its wait (msBeforeNext, ...) is over:
//     the API said so for the whole token, not for one request;
//   - when the API's window is used up (X-RateLimit-Remaining, less what
//     was sent since, reaches 0) nobody sends until X-RateLimit-Reset.
//
// A slot is held for the attempt only: waits (pacing, 429, back-off)
// release it. A zero max means no bound on attempts; the rate-limit waits
// apply all the same.
type gate struct {
	max    int
	maxRL  time.Duration // longer window waits are left to the 429 path
	mu     sync.Mutex
	limit  int
	busy   int
	streak int // answered attempts since the limit last changed
	// remaining estimates the window's requests left: the API's last
	// count, less the attempts sent since. Known only while window is.
	remaining int
	window    time.Time // the window's end as the API states it (its clock)
	resetAt   time.Time // the same instant on our clock
	pausedTo  time.Time
	changed   chan struct{} // closed when a slot frees or a wait ends
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

// acquire takes a slot. When the API asked the tenant to wait it returns
// that wait instead (ok false): the caller sleeps it, telling OnWait why,
// and asks again. The clock is read at each look, under the lock: waiting
// for a slot can outlast the holds that were in force when it began.
func (g *gate) acquire(ctx context.Context, clock func() time.Time) (hold holdUntil, ok bool, err error) {
	for {
		g.mu.Lock()
		now := clock()
		switch {
		case now.Before(g.pausedTo):
			hold = holdUntil{g.pausedTo, "rate limited by the API (HTTP 429); the tenant's requests wait together", true}
		case !g.window.IsZero() && g.remaining <= 0 && now.Before(g.resetAt):
			hold = holdUntil{g.resetAt, "the API's rate-limit window is used up (X-RateLimit-Remaining); waiting for X-RateLimit-Reset", false}
		case g.max <= 0 || g.busy < g.limit:
			if !g.window.IsZero() && !now.Before(g.resetAt) {
				g.window = time.Time{} // a new window, of unknown size until an answer says
			}
			g.busy++
			g.remaining--
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

// release frees the slot of an attempt and learns from its answer: status
// 0 means no answer (a transport error), which teaches nothing. A 429
// stops every request of the tenant until pauseUntil, its wait, whether or
// not the request itself waits it out; the pause is set before waiters are
// woken, so none of them slips through.
func (g *gate) release(status int, h http.Header, now, pauseUntil time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.busy--
	switch {
	case status == http.StatusTooManyRequests:
		if pauseUntil.After(g.pausedTo) {
			g.pausedTo = pauseUntil
		}
		g.limit = max(1, g.limit/2)
		g.streak = 0
	case status != 0:
		if g.streak++; g.streak >= g.limit && g.limit < g.max {
			g.limit++
			g.streak = 0
		}
		g.learnWindow(h, now)
	}
	g.wake()
}

// learnWindow reads X-RateLimit-Remaining and X-RateLimit-Reset. The reset
// is converted to our clock through the response's Date, so a skewed
// server clock does not stretch or skip the wait. A later reset starts a
// new window, less the attempts still on the wire (the API may or may not
// have counted them: counting them errs on the side of no 429); within
// one, the lower count wins (answers arrive out of order, and attempts
// sent since are already subtracted).
func (g *gate) learnWindow(h http.Header, now time.Time) {
	rem, err := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining")))
	if err != nil || rem < 0 {
		return
	}
	reset, ok := parseDate(h.Get("X-RateLimit-Reset"))
	if !ok {
		return
	}
	in := reset.Sub(now)
	if date, ok := parseDate(h.Get("Date")); ok {
		in = reset.Sub(date)
	}
	// The dates have one-second resolution (Date truncated, the reset
	// rounded up), so a window as long as the longest wait reads up to two
	// seconds longer.
	if in <= 0 || in > g.maxRL+2*time.Second {
		return
	}
	switch {
	case g.window.IsZero() || reset.After(g.window):
		g.window, g.resetAt, g.remaining = reset, now.Add(in), rem-g.busy
	case reset.Equal(g.window):
		g.remaining = min(g.remaining, rem)
	}
}

func (g *gate) wake() {
	close(g.changed)
	g.changed = make(chan struct{})
}
