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
//     was sent since, reaches 0) no request of the class sends until the
//     window ends. The next window opens with as many requests as the last
//     one had (X-RateLimit-Consumed + Remaining) until its answers say:
//     the attempts waiting for it would otherwise all go at once and
//     spend it many times over.
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
// X-RateLimit-Reset and Date have one-second resolution, so the window's
// end read from them is up to two seconds late: little in Segment's
// minute, twice the time a sync needs under windows of a second. In
// windows shorter than shortWindow the gate therefore learns the end to
// the millisecond: the first time such a window is used up, once the
// attempts counted in it are answered, one attempt, the probe, is sent
// into it, and its 429's msBeforeNext says when the window ends. Less when the window's first request was sent (the one
// answered with X-RateLimit-Consumed 1) that is how long windows last, and
// from then on each window's end follows from its first answer, with no
// further 429.
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

// shortWindow bounds the windows whose end is worth a 429 to learn: the
// dates make it up to 2 s late, 10% or more of a shorter window, while a
// minute loses at most 3% and never sees a 429 for it.
const shortWindow = 20 * time.Second

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
	// count, or the last window's size, less the attempts sent since.
	remaining int
	window    time.Time // the window's end as the API states it (its clock); zero until an answer states one
	resetAt   time.Time // the same instant on our clock: to the millisecond if exact, else late by up to 2 s
	exact     bool
	// over: resetAt has passed, so the next request opens the API's next
	// window, of which no answer has come yet.
	over     bool
	pausedTo time.Time

	size    int           // the window's requests (X-RateLimit-Consumed + Remaining); 0 unknown
	longest time.Duration // the longest window stated (X-RateLimit-Reset − Date)
	opened  time.Time     // when the window's first request was sent, if it was ours
	length  time.Duration // how long windows last, once a probe's 429 told; 0 unknown
	probing bool          // the probe is on the wire
	mute    bool          // a probe's 429 did not say when the window ends: probes teach nothing
}

func newGate(max int, maxRL time.Duration) *gate {
	return &gate{max: max, maxRL: maxRL, limit: max, changed: make(chan struct{})}
}

// ticket is an attempt's slot: what its release needs besides the answer.
type ticket struct {
	class rateClass
	sent  time.Time // when the gate let it go: no later than the API saw it
	probe bool
}

// answer is what an attempt brought back. A status of 0 means none (a
// transport error), which teaches nothing. pauseUntil is when a 429 said
// to send again, exact when msBeforeNext said it.
type answer struct {
	status     int
	header     http.Header
	at         time.Time // when the headers arrived
	pauseUntil time.Time
	exact      bool
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
// force when it began. While answers on their way will say more of a
// used-up window (next), acquire waits for them as it waits for a slot.
func (g *gate) acquire(ctx context.Context, c rateClass, clock func() time.Time) (ticket, holdUntil, bool, error) {
	l := &g.classes[c]
	for {
		g.mu.Lock()
		now := clock()
		l.roll(now)
		step := l.next()
		switch {
		case now.Before(l.pausedTo):
			until := l.pausedTo // read under the lock: a release may move it
			g.mu.Unlock()
			return ticket{}, holdUntil{until, "rate limited by the API (HTTP 429); the tenant's " + c.String() + " wait together", true}, false, nil
		case step == hold:
			until := l.resetAt
			g.mu.Unlock()
			return ticket{}, holdUntil{until, "the API's rate-limit window for " + c.String() + " is used up (X-RateLimit-Remaining); waiting for X-RateLimit-Reset", false}, false, nil
		case step == await:
			// Below, as for a slot.
		case g.max <= 0 || g.busy < g.limit:
			g.busy++
			l.inFlight++
			l.remaining--
			l.probing = l.probing || step == probe
			g.mu.Unlock()
			return ticket{class: c, sent: now, probe: step == probe}, holdUntil{}, true, nil
		}
		changed := g.changed
		g.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ticket{}, holdUntil{}, false, ctx.Err()
		}
	}
}

// step is what the class's window lets an attempt do.
type step int

const (
	send  step = iota
	probe      // send, as the probe
	hold       // wait for the window's end
	await      // wait for an answer on its way, which will say more
)

func (l *classLimit) next() step {
	switch {
	case l.window.IsZero() || l.remaining > 0 || l.over && l.size == 0:
		return send
	case l.over || l.probing:
		// The first answers of the window just opened, or the probe's;
		// with none on its way, only the API can tell.
		if l.inFlight > 0 {
			return await
		}
		return send
	case l.exact || l.mute || l.longest >= shortWindow:
		return hold
	case l.inFlight > 0:
		// Their answers may say the end (the first request's) or leave
		// room; and a probe sent now could reach the API before them and
		// take the room they were counted in, so that one of them gets the
		// 429 besides the probe.
		return await
	}
	return probe
}

// release frees the slot of an attempt and learns from its answer. A 429
// stops every request of the class until its pause, whether or not the
// request itself waits it out; the pause is set before waiters are woken,
// so none of them slips through.
func (g *gate) release(t ticket, a answer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := &g.classes[t.class]
	g.busy--
	l.inFlight--
	if t.probe {
		l.probing = false
		if a.status == http.StatusTooManyRequests && !a.exact {
			l.mute = true
		}
	}
	switch {
	case a.status == http.StatusTooManyRequests:
		if a.pauseUntil.After(l.pausedTo) {
			l.pausedTo = a.pauseUntil
		}
		if a.exact {
			l.ends(a.pauseUntil)
		}
		// The probe was sent for its 429, which says nothing of how many
		// attempts the API takes at once.
		if !t.probe {
			g.limit = max(1, g.limit/2)
			g.streak = 0
		}
	case a.status != 0:
		if g.streak++; g.streak >= g.limit && g.limit < g.max {
			g.limit++
			g.streak = 0
		}
		l.learnWindow(a.header, t.sent, a.at, g.maxRL)
	}
	g.wake()
}

// roll ends the window once its end has come: the next request opens
// the API's next window, taken to be as large as the last.
func (l *classLimit) roll(now time.Time) {
	if l.window.IsZero() || l.over || now.Before(l.resetAt) {
		return
	}
	l.over, l.exact, l.remaining, l.opened = true, false, l.size, time.Time{}
}

// ends takes end, stated to the millisecond by a 429, as the current
// window's; from when its first request was sent, it says how long
// windows last. A 429 after the window was taken to be over is about the
// next one, whose answers have not come: its pause holds the class.
func (l *classLimit) ends(end time.Time) {
	if l.window.IsZero() || l.over {
		return
	}
	if !l.opened.IsZero() {
		l.length = end.Sub(l.opened)
	}
	l.resetAt, l.exact = end, true
}

// learnWindow reads X-RateLimit-Remaining, -Consumed and -Reset from an
// answer to an attempt sent at sent whose headers arrived at at. The
// reset is converted to our clock through the response's Date, so a
// skewed server clock does not stretch or skip the wait. A later reset
// starts a new window: if it was opened with the last window's size,
// every attempt since is already counted; else the class's attempts still
// on the wire are subtracted (the API may or may not have counted them:
// counting them errs on the side of no 429). Within one, the lower count
// wins (answers arrive out of order, and attempts sent since are already
// subtracted). Answers of a window that is over teach nothing, unless
// the attempt was sent after its end. Windows longer than maxRL are left
// to the 429 path.
func (l *classLimit) learnWindow(h http.Header, sent, at time.Time, maxRL time.Duration) {
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
		if l.over && l.size > 0 {
			l.remaining = min(l.remaining, rem)
		} else {
			l.remaining = rem - l.inFlight
		}
		l.window, l.resetAt, l.exact, l.over, l.opened = reset, at.Add(in), false, false, time.Time{}
		l.longest = max(l.longest, in)
	case reset.Equal(l.window) && !l.over:
		l.remaining = min(l.remaining, rem)
	case reset.Equal(l.window) && !sent.Before(l.resetAt):
		// Sent once the window was taken to be over, yet counted in it:
		// it lasts until its reset after all.
		l.over, l.exact, l.resetAt = false, false, at.Add(in)
		l.remaining = min(l.remaining, rem)
	default:
		return
	}
	consumed, err := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Consumed")))
	if err != nil || consumed < 1 {
		return
	}
	l.size = consumed + rem
	if consumed > 1 {
		return
	}
	// This attempt opened the window: it ends length after the API saw
	// it, which was no later than its answer. Should the reset read
	// earlier, that is as close.
	l.opened = sent
	if l.length > 0 {
		if end := at.Add(l.length); end.Before(l.resetAt) {
			l.resetAt = end
		}
		l.exact = true
	}
}

func (g *gate) wake() {
	close(g.changed)
	g.changed = make(chan struct{})
}
