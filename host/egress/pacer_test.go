package egress

import (
	"context"
	"testing"
	"time"
)

// TestPacerCancelledWaitsReturnTheirSlots: requests whose context ends
// while they wait for a write slot give it back; the next request waits
// for the first free slot, not behind every abandoned one.
func TestPacerCancelledWaitsReturnTheirSlots(t *testing.T) {
	clock := newFakeClock()
	p := newPacer(60)
	ctx := context.Background()
	if d, err := p.wait(ctx, clock.Now, clock.Sleep); d != 0 || err != nil {
		t.Fatalf("first write waited %v, %v", d, err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	for range 10 {
		if _, err := p.wait(gone, clock.Now, clock.Sleep); err == nil {
			t.Fatal("a cancelled wait succeeded")
		}
	}
	if d, err := p.wait(ctx, clock.Now, clock.Sleep); d != time.Second || err != nil {
		t.Fatalf("after 10 abandoned waits the next write waited %v, %v; want the 1s to the next slot", d, err)
	}
	if d, _ := p.wait(ctx, clock.Now, clock.Sleep); d != time.Second {
		t.Errorf("writes are no longer evenly spaced: waited %v, want 1s", d)
	}
	if got := clock.Sleeps(); len(got) != 2 {
		t.Errorf("slept %v", got)
	}
}
