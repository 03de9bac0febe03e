package sandbox

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// memoryMeter counts the bytes of linear memory held by the instances of a
// pool. extism does not expose an instance's memory, so the pool gives
// wazero an allocator that reports every allocation, growth and release.
type memoryMeter struct {
	bytes atomic.Int64
}

func (m *memoryMeter) allocator() experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(capacity, max uint64) experimental.LinearMemory {
		return &meteredMemory{meter: m, max: max, buf: make([]byte, 0, min(capacity, max))}
	})
}

// meteredMemory is a linear memory backed by a Go byte slice. Wasm memory
// only grows; growth reallocates with doubling capacity (capped at the
// maximum) so a guest growing page by page copies O(size) bytes in total.
type meteredMemory struct {
	meter *memoryMeter
	max   uint64
	buf   []byte
}

func (mm *meteredMemory) Reallocate(size uint64) []byte {
	if size > mm.max {
		return nil
	}
	old := len(mm.buf)
	if size > uint64(cap(mm.buf)) {
		grown := make([]byte, size, min(max(size, 2*uint64(cap(mm.buf))), mm.max))
		copy(grown, mm.buf)
		mm.buf = grown
	} else {
		mm.buf = mm.buf[:size]
	}
	mm.meter.bytes.Add(int64(len(mm.buf) - old))
	return mm.buf
}

func (mm *meteredMemory) Free() {
	mm.meter.bytes.Add(-int64(len(mm.buf)))
	mm.buf = nil
}
