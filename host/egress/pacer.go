package egress

import (
	"context"
	"time"

	"golang.org/x/time/rate"
)

// writeMethods are the methods that change upstream state; APIs limit them
// separately (Segment: 60 IAM writes a minute).
var writeMethods = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// writerFor returns the write pacer for mutating methods, nil otherwise.
func (c *Client) writerFor(method string) *pacer {
	if writeMethods[method] {
		return c.writes
	}
	return nil
}

// pacer spaces requests evenly, at most one per interval (a token bucket
// of one), so a burst of provisioning calls is sent at the API's write rate
// instead of tripping its limit and waiting out 429s.
type pacer struct {
	lim *rate.Limiter
}

func newPacer(perMinute int) *pacer {
	if perMinute <= 0 {
		return nil
	}
	return &pacer{lim: rate.NewLimiter(rate.Every(time.Minute/time.Duration(perMinute)), 1)}
}

// wait reserves the next send slot and sleeps until it. If ctx ends first,
// the slot is given back, so that a cancelled request does not delay the
// requests queued behind it. A nil pacer never waits. The clock and sleep
// are the Client's, so tests drive them.
func (p *pacer) wait(ctx context.Context, now func() time.Time, sleep func(context.Context, time.Duration) error) (time.Duration, error) {
	if p == nil {
		return 0, nil
	}
	t := now()
	r := p.lim.ReserveN(t, 1)
	d := r.DelayFrom(t)
	if d <= 0 {
		return 0, nil
	}
	if err := sleep(ctx, d); err != nil {
		r.CancelAt(now())
		return 0, err
	}
	return d, nil
}
