package egress

import (
	"context"
	"sync"
	"time"
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

// pacer spaces requests evenly, at most one per interval, so a burst of
// provisioning calls is sent at the API's write rate instead of tripping
// its limit and waiting out 429s.
type pacer struct {
	interval time.Duration
	mu       sync.Mutex
	next     time.Time
}

func newPacer(perMinute int) *pacer {
	if perMinute <= 0 {
		return nil
	}
	return &pacer{interval: time.Minute / time.Duration(perMinute)}
}

// wait reserves the next send slot and sleeps until it. A nil pacer never
// waits.
func (p *pacer) wait(ctx context.Context, now time.Time, sleep func(context.Context, time.Duration) error) (time.Duration, error) {
	if p == nil {
		return 0, nil
	}
	p.mu.Lock()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.interval)
	p.mu.Unlock()
	d := at.Sub(now)
	if d <= 0 {
		return 0, nil
	}
	return d, sleep(ctx, d)
}
