package main

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

// TestReleaseCompileHeap: a compile that left a large heap behind has its
// free pages returned at once; a small one costs no collection.
func TestReleaseCompileHeap(t *testing.T) {
	read := func() (forced, released, heap uint64) {
		s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}, {Name: "/memory/classes/heap/released:bytes"},
			{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64() + s[3].Value.Uint64()
	}
	runtime.GC()
	// Other tests of the package may have left a large heap live.
	if forced0, _, heap := read(); heap < compileHeapBytes/2 {
		releaseCompileHeap()
		if forced, _, _ := read(); forced != forced0 {
			t.Errorf("a heap of %d MiB was collected %d times", heap>>20, forced-forced0)
		}
	}

	leftover := make([]byte, 2*compileHeapBytes)
	for i := range leftover {
		leftover[i] = 1 // resident, as a module's bytes are
	}
	runtime.KeepAlive(leftover)
	_, released0, _ := read()
	releaseCompileHeap()
	if _, released, _ := read(); released < released0+compileHeapBytes {
		t.Errorf("%d MiB of the heap returned, want at least %d", (released-released0)>>20, compileHeapBytes>>20)
	}
}
