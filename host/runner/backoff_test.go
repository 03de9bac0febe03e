package runner

import (
	"slices"
	"testing"
	"time"
)

// TestRestartBackOff: restarts wait RestartBackoff doubling, jittered ±50%,
// never above MaxRestartBackoff, and start over after a tenant did work.
func TestRestartBackOff(t *testing.T) {
	r := New(Options{RestartBackoff: time.Second, MaxRestartBackoff: 6 * time.Second})
	var firsts []time.Duration
	for range 50 {
		b := r.restartBackOff()
		step := time.Second
		for i := range 8 {
			d := b.next()
			lo, hi := step/2, min(step*3/2+1, r.opts.MaxRestartBackoff)
			if d < lo || d > hi {
				t.Fatalf("restart %d waited %v, want %v..%v", i+1, d, lo, hi)
			}
			if i == 0 {
				firsts = append(firsts, d)
			}
			step = min(2*step, r.opts.MaxRestartBackoff)
		}
		b.reset()
		if d := b.next(); d < time.Second/2 || d > 3*time.Second/2+1 {
			t.Fatalf("after a reset the wait is %v, want about 1s", d)
		}
	}
	if slices.Min(firsts) == slices.Max(firsts) {
		t.Errorf("every first restart waited %v: no jitter", firsts[0])
	}
}
