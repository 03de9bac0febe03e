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
// meteredMemory), so the host memory behind one instance never exceeds
// the limit.
type memoryBudget struct {
	meter  *memoryMeter // nil: not counted (the compile-time probe)
	limit  uint64
	mapped bool

	mu       sync.Mutex
	reserved uint64
}

// newMemoryBudget returns the budget of an instance; mapped puts its
// memories outside the Go heap (mappedMemory), else in Go slices
// (sliceMemory).
func newMemoryBudget(limit uint64, meter *memoryMeter, mapped bool) *memoryBudget {
	return &memoryBudget{meter: meter, limit: limit, mapped: mapped}
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
		if b.mapped {
			return &mappedMemory{budget: b, max: max}
		}
		return &sliceMemory{budget: b, max: max}
	})
}

// grow reserves the capacity for a memory growing from capacity have to
// length size, preferring capacity want. It grants less than want when the
// budget is short: at most half of what would remain, so the other memory
// can still grow and a memory creeping up to the limit reallocates (and
// copies itself) only a logarithmic number of times. The first allocation
// (the module's declared minimum, which wazero requires and the page limit
// already caps) is always granted: refusing it would panic in wazero.
func (b *memoryBudget) grow(have, size, want uint64, first bool) (uint64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	need := size - have
	free := b.limit - min(b.reserved, b.limit)
	extra := want - size
	switch {
	case need <= free:
		extra = min(extra, (free-need)/2)
	case first:
		extra = 0
	default:
		return 0, false
	}
	b.reserved += need + extra
	return size + extra, true
}

func (b *memoryBudget) release(capacity uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reserved -= capacity
}

// sliceMemory is a linear memory backed by a Go byte slice. Wasm memory
// only grows; growth reallocates with doubling capacity (capped at the
// maximum and by the budget) so a guest growing page by page copies
// O(size) bytes in total. Reallocate returning nil makes the guest's
// memory.grow fail (-1), which the guest sees as out of memory.
type sliceMemory struct {
	budget    *memoryBudget
	max       uint64
	buf       []byte
	allocated bool
}

func (mm *sliceMemory) Reallocate(size uint64) []byte {
	if size > mm.max {
		return nil
	}
	old := len(mm.buf)
	if have := uint64(cap(mm.buf)); size > have {
		c, ok := mm.budget.grow(have, size, min(max(size, 2*have), mm.max), !mm.allocated)
		if !ok {
			return nil
		}
		mm.allocated = true
		grown := make([]byte, size, c)
		copy(grown, mm.buf)
		mm.buf = grown
	} else {
		mm.buf = mm.buf[:size]
	}
	mm.budget.meter.add(int64(len(mm.buf) - old))
	return mm.buf
}

func (mm *sliceMemory) Free() {
	mm.budget.meter.add(-int64(len(mm.buf)))
	mm.budget.release(uint64(cap(mm.buf)))
	mm.buf = nil
}

// mappedMemory is a linear memory in a mapping of its own, outside the
// Go heap: its maximum is reserved as address space (PROT_NONE, which the
// kernel does not count as committed), and growth makes the next pages
// usable in place. Wasm memory only grows, and here it grows without
// copying; pages the guest never touches are never resident; and Free
// gives them back to the kernel at once, where a Go slice would stay in
// the heap until the collector ran and then in the runtime's free pages,
// swelling every later heap and the peak of the process: a baton-sdk
// guest's memory is ~100 MiB an instance, and a demo sync peaked at
// 530 MiB instead of 695. (The Segment guest keeps sliceMemory: its
// memories are small, and with them out of the heap its 1k-user sync
// peaked at 260 MiB instead of 155 in 4 runs of 4 — the heap's reuse of
// pages for a large allocation, issue 21, not the memories themselves.)
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
		if _, ok := mm.budget.grow(mm.committed, size, size, !mm.allocated); !ok {
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
