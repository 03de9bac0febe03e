package localsync

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestLimitOneShotMemoryDefault(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	debug.SetMemoryLimit(math.MaxInt64)

	if got := LimitOneShotMemory(); got != OneShotMemoryLimit {
		t.Fatalf("LimitOneShotMemory() = %d, want %d", got, OneShotMemoryLimit)
	}
	if got := debug.SetMemoryLimit(-1); got != OneShotMemoryLimit {
		t.Fatalf("runtime memory limit = %d, want %d", got, OneShotMemoryLimit)
	}
}

// The operator's GOMEMLIMIT (read by the runtime at start) wins; the
// function must not overwrite whatever limit is in effect.
func TestLimitOneShotMemoryKeepsOperatorLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "512MiB")
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	const operator = 512 << 20
	debug.SetMemoryLimit(operator)

	if got := LimitOneShotMemory(); got != operator {
		t.Fatalf("LimitOneShotMemory() = %d, want the operator's %d", got, operator)
	}
	if got := debug.SetMemoryLimit(-1); got != operator {
		t.Fatalf("runtime memory limit = %d, want the operator's %d", got, operator)
	}
}
