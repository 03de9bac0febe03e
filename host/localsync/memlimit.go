package localsync

import (
	"os"
	"runtime/debug"
)

// OneShotMemoryLimit is the soft memory limit of the Go runtime in a
// process that runs one sync and exits. The live heap of a sync is
// small, but with the default GOGC the heap grows to twice it before a
// collection, and a sync makes much garbage (wazero call stacks) and, at
// the end, baton-sdk's Pebble store allocates one or two 128 MiB sort
// arenas, which the runtime zeroes (so makes resident) when they overlap
// heap pages used before. Under the limit the heap stays compact and the
// arenas mostly land on fresh, untouched pages: a sandboxed 10k-user
// sync peaks at ~300 MiB instead of ~500. 64 MiB saved little more for
// ~10% more CPU; 128 MiB was as erratic as no limit. The limit is soft:
// a larger live heap still runs, the collector capped at half the CPU.
const OneShotMemoryLimit = 96 << 20

// LimitOneShotMemory sets OneShotMemoryLimit as the process's soft
// memory limit unless the operator chose one with GOMEMLIMIT (which
// also takes "off"), and returns the limit in effect. Only one-shot
// commands call it: the limit is process-wide, and a service runs many
// tenants' syncs whose operator sizes the process.
func LimitOneShotMemory() int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1)
	}
	debug.SetMemoryLimit(OneShotMemoryLimit)
	return OneShotMemoryLimit
}
