package egress

import (
	"testing"
	"time"
)

// TestHeldClockCountsWallTime: waits that overlap count once; a gap with
// nothing held counts nothing.
func TestHeldClockCountsWallTime(t *testing.T) {
	var h heldClock
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var total time.Duration
	for _, ev := range []struct{ s, delta int }{
		{0, +1}, {1, +1}, {1, +1}, {3, -1}, {4, -1}, {5, -1}, // three requests held over 0..5
		{10, +1}, {12, -1}, // one over 10..12
	} {
		total += h.change(at(ev.s), ev.delta)
	}
	if total != 7*time.Second {
		t.Errorf("held %s, want 7s: the wall time with a request held, not the 12s of the waits' sum", total)
	}
}
