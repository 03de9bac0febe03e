package egress

import "context"

// inFlight bounds the attempts a Client has on the wire at once, so that a
// parallel sync (several guest instances calling at once) never has more
// than the tenant's max_in_flight requests outstanding. A slot is held
// only for the attempt itself: waits (pacing, 429, back-off) release it.
type inFlight chan struct{}

// newInFlight returns a bound of n; n <= 0 means no bound.
func newInFlight(n int) inFlight {
	if n <= 0 {
		return nil
	}
	return make(inFlight, n)
}

// acquire takes a slot, or fails when ctx ends first.
func (f inFlight) acquire(ctx context.Context) error {
	if f == nil {
		return nil
	}
	select {
	case f <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f inFlight) release() {
	if f != nil {
		<-f
	}
}
