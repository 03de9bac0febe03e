package sandbox

import (
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// memoryMeter counts the bytes of linear memory held by the instances of a
// pool, and the most they held at once. extism does not expose an
// instance's memory, so each instance gives wazero an allocator that
// reports every allocation, growth and release.
type memoryMeter struct {
	bytes, peak atomic.Int64
}

func (m *memoryMeter) add(n int64) {
	if m == nil {
		return
	}
	v := m.bytes.Add(n)
	for {
		p := m.peak.Load()
		if v <= p || m.peak.CompareAndSwap(p, v) {
			return
		}
	}
}

// memoryBudget is the memory of one instance. An instance has two linear
// memories, the guest's and the extism kernel's (where inputs, outputs and
// host-function blocks live); wazero's page limit caps each of them, so
// without a shared budget a guest could hold twice its limit. Both draw the
// host memory backing them from this budget, counted as committed (see
// mappedMemory), so the host memory behind one instance never exceeds
// the limit.
type memoryBudget struct {
	meter *memoryMeter // nil: not counted (the compile-time probe)
	limit uint64

	mu       sync.Mutex
	reserved uint64
}

func newMemoryBudget(limit uint64, meter *memoryMeter) *memoryBudget {
	return &memoryBudget{meter: meter, limit: limit}
}

// charge reserves what an instance holds outside its linear memories
// (tables, segments, globals): the memories then share what is left.
func (b *memoryBudget) charge(n uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reserved += n
}

func (b *memoryBudget) allocator() experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		return &mappedMemory{budget: b, max: max}
	})
}

// grow reserves need more bytes for a memory, if the budget has them. The
// first allocation (the module's declared minimum, which wazero requires
// and the page limit already caps) is always granted: refusing it would
// panic in wazero.
func (b *memoryBudget) grow(need uint64, first bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if free := b.limit - min(b.reserved, b.limit); need > free && !first {
		return false
	}
	b.reserved += need
	return true
}

func (b *memoryBudget) release(n uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reserved -= n
}

// mappedMemory is a linear memory in a mapping of its own, outside the
// Go heap: its maximum is reserved as address space (PROT_NONE, which the
// kernel does not count as committed), and growth makes the next pages
// usable in place. Wasm memory only grows, and here it grows without
// copying; pages the guest never touches are never resident; and Free
// gives them back to the kernel at once, where a Go slice would stay in
// the heap until the collector ran and then in the runtime's free pages,
// swelling every later heap and the peak of the process. Measured: a
// baton-sdk guest's memory is ~100 MiB an instance, and a demo sync
// peaked at 530 MiB instead of 695 with Go slices; a 1k-user Segment
// sync at ~135 MiB instead of ~148 (with localsync's arena guard: without
// it, a smaller heap made Pebble's arenas land on used pages more often).
type mappedMemory struct {
	budget    *memoryBudget
	max       uint64
	region    []byte // the reservation: max bytes, usable up to committed
	committed uint64
	allocated bool
}

func (mm *mappedMemory) Reallocate(size uint64) []byte {
	if size > mm.max {
		return nil
	}
	if mm.region == nil {
		region, err := syscall.Mmap(-1, 0, int(max(mm.max, 1)), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err != nil {
			return nil
		}
		mm.region = region
	}
	if size > mm.committed {
		if !mm.budget.grow(size-mm.committed, !mm.allocated) {
			return nil
		}
		if err := syscall.Mprotect(mm.region[mm.committed:size], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			mm.budget.release(size - mm.committed)
			return nil
		}
		mm.allocated = true
		mm.budget.meter.add(int64(size - mm.committed))
		mm.committed = size
	}
	return mm.region[:size:size]
}

func (mm *mappedMemory) Free() {
	if mm.region == nil {
		return
	}
	mm.budget.meter.add(-int64(mm.committed))
	mm.budget.release(mm.committed)
	_ = syscall.Munmap(mm.region)
	mm.region, mm.committed = nil, 0
}
