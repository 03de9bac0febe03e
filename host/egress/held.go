package egress

import (
	"sync"
	"time"
)

// heldClock measures the wall time during which at least one request is
// held by a rate limit: the union of the waits, not their sum.
type heldClock struct {
	mu   sync.Mutex
	n    int       // requests held now
	mark time.Time // when the time before it was last reported
}

// change adds delta to the requests held at now and returns the held time
// since the last change.
func (h *heldClock) change(now time.Time, delta int) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var d time.Duration
	if h.n > 0 {
		d = max(now.Sub(h.mark), 0)
	}
	h.mark = now
	h.n += delta
	return d
}

// reportHeld tells OnHeld of the held time up to a request starting
// (delta +1) or ending (-1) a rate-limit wait.
func (c *Client) reportHeld(delta int) {
	if d := c.held.change(c.now(), delta); d > 0 {
		c.onHeld(d)
	}
}
