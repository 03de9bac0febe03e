package membudget_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/baton-runner/baton-runner/host/membudget"
)

// A process with a budget admits a tenant's sync while its estimated peak
// fits: a tenant not yet measured reserves DefaultSyncPeakMiB, and its
// first successful sync that runs alone becomes its estimate. A budget the
// idle process already fills refuses every sync, saying what to raise.
func Example() {
	ctx := context.Background()
	b := membudget.New(membudget.Config{Setting: "--process-memory-mib"})
	b.SetLimit(64 << 30)
	t, err := b.Acquire(ctx, "acme", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("acme's first sync reserves", membudget.MiB(t.Reserved()), "MiB")
	t.Release(true)

	b.SetLimit(1 << 20) // less than any process holds idle
	_, err = b.Acquire(ctx, "acme", nil)
	fmt.Println("under 1 MiB:", errors.Is(err, membudget.ErrDoesNotFit))
	// Output:
	// acme's first sync reserves 256 MiB
	// under 1 MiB: true
}
