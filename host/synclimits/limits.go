// Package synclimits bounds one whole sync, whatever the guest does: its
// wall time, the pages and items it lists, how deep child resources nest,
// the API requests it makes and the disk its c1z store takes. Each call of
// a single export is bounded by the sandbox; these limits bound the sum.
package synclimits

import (
	"fmt"
	"strings"
	"time"
)

// Limits of one sync. A zero field takes its default (WithDefaults); a
// negative one disables that limit.
type Limits struct {
	// Timeout bounds the sync's wall time (runner.toml sync_timeout,
	// --sync-timeout).
	Timeout time.Duration
	// MaxPages bounds the guest list calls (pages of resources,
	// entitlements or grants) of one sync (max_pages, --max-pages).
	MaxPages int64
	// MaxEmptyPages bounds how many pages in a row one listing (the
	// resources of a type below one parent, or the entitlements or grants
	// of one resource) may return without progress while asking for
	// another page: pages that list nothing, or that hand back the page
	// token they were called with (max_empty_pages, --max-empty-pages).
	MaxEmptyPages int64
	// MaxItems bounds the resources, entitlements and grants one sync
	// lists (max_items, --max-items).
	MaxItems int64
	// MaxDepth bounds how deep child resources nest below a top-level
	// resource (max_depth, --max-depth).
	MaxDepth int
	// MaxC1ZBytes bounds the disk the sync's c1z store and its working
	// files take (max_c1z_mib, --max-c1z-mib). In service mode the sync
	// tasks run at once (task concurrency) share one directory, and the
	// bound is on their files together.
	MaxC1ZBytes int64
	// RequestBudget bounds the API requests of one sync (request_budget,
	// --request-budget). Zero means unlimited, for compatibility with
	// runner.toml files written before the other limits existed.
	RequestBudget int64
	// MaxInFlight bounds the API requests the tenant has on the wire at
	// once (max_in_flight, --max-in-flight): a page's requests, which the
	// guest hands the host as one batch, and those of concurrent calls.
	// The egress client lowers the bound on 429s and follows the API's
	// rate-limit window. It cannot be disabled: zero or negative takes
	// the default.
	MaxInFlight int
}

// Defaults: a 100k-user Segment workspace takes about 250k guest calls,
// 2M items and well under 2 GiB of c1z store, and at Segment's documented
// 600 requests a minute about three hours; each default leaves several
// times that headroom while still ending a runaway sync.
const (
	DefaultTimeout  = 12 * time.Hour
	DefaultMaxPages = 2_000_000
	// DefaultMaxEmptyPages: an honest listing returns an empty page that
	// asks for more when the connector or API filters a whole page away
	// (deactivated users, other kinds of objects) or pages over a sparse
	// range, a few pages in a row; 100 in a row is 10,000 records
	// dropped at a page size of 100. A guest that pages nothing runs at
	// about 80 pages a second: this ends it within seconds, where
	// max_pages alone would let it hold a sync slot for about 7 hours.
	DefaultMaxEmptyPages = 100
	DefaultMaxItems      = 20_000_000
	DefaultMaxDepth      = 8
	DefaultMaxC1ZBytes   = 8 << 30
	// DefaultMaxInFlight: 32 requests on the wire take a page of 100
	// users' requests in four rounds (10k users at 20 ms: 41 s with 16,
	// 35 s with 32; BENCHMARKS.md); the API's rate-limit window, which
	// the egress gate follows, not this bound, limits a tenant against
	// the real API.
	DefaultMaxInFlight = 32
)

// WithDefaults returns l with its zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	if l.Timeout == 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxPages == 0 {
		l.MaxPages = DefaultMaxPages
	}
	if l.MaxEmptyPages == 0 {
		l.MaxEmptyPages = DefaultMaxEmptyPages
	}
	if l.MaxItems == 0 {
		l.MaxItems = DefaultMaxItems
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxC1ZBytes == 0 {
		l.MaxC1ZBytes = DefaultMaxC1ZBytes
	}
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = DefaultMaxInFlight
	}
	return l
}

// Error is a sync over one of its limits. The sync ends with it; nothing
// the guest listed after the limit is kept.
type Error struct {
	// Key is the runner.toml key of the limit ("max_pages"); its flag is
	// the same name with dashes (--max-pages).
	Key string
	// Detail states the limit's value and unit ("2000000 guest list calls").
	Detail string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return "sync exceeded " + e.Detail
	}
	return fmt.Sprintf("sync exceeded %s (%s; raise %s in runner.toml or --%s)",
		e.Key, e.Detail, e.Key, strings.ReplaceAll(e.Key, "_", "-"))
}
