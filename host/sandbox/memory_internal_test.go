package sandbox

import (
	"testing"

	"github.com/tetratelabs/wazero/experimental"
)

// TestMemoryBudgetSharedByTwoMemories grows two memories of one budget
// page by page in turn: together they never hold more than the budget,
// between them they can use all of it, and neither is ever moved (copied):
// each grows in place in its own reservation.
func TestMemoryBudgetSharedByTwoMemories(t *testing.T) {
	const page, limit = 64 << 10, 64 << 20
	var meter memoryMeter
	b := newMemoryBudget(limit, &meter)
	a, k := b.allocator().Allocate(0, limit), b.allocator().Allocate(0, limit)
	mems := []growing{{mem: a, size: 43 * page}, {mem: k, size: page}}
	reallocs := 0
	for _, m := range mems {
		if m.mem.Reallocate(m.size) == nil {
			t.Fatal("the declared minimum must always be granted")
		}
	}
	for progress := true; progress; {
		progress = false
		for i := range mems {
			m := &mems[i]
			before := &m.mem.Reallocate(m.size)[0]
			if buf := m.mem.Reallocate(m.size + page); buf != nil {
				m.size += page
				progress = true
				if &buf[0] != before {
					reallocs++
				}
			}
			if b.reserved > limit {
				t.Fatalf("reserved %d bytes over a budget of %d", b.reserved, limit)
			}
		}
	}
	if got := mems[0].size + mems[1].size; got < limit-2*page {
		t.Errorf("the two memories reached %d bytes together, want nearly all of %d", got, limit)
	}
	if reallocs > 0 {
		t.Errorf("the memories moved %d times growing to the budget page by page, want none", reallocs)
	}
	if meter.peak.Load() > limit {
		t.Errorf("peak %d over the budget", meter.peak.Load())
	}
	a.Free()
	k.Free()
	if b.reserved != 0 || meter.bytes.Load() != 0 {
		t.Errorf("after Free: reserved %d, metered %d, want 0", b.reserved, meter.bytes.Load())
	}
}

type growing struct {
	mem  experimental.LinearMemory
	size uint64
}

// TestChargedBytesShrinkTheMemories: what an instance holds outside its
// linear memories (tables, segments) is taken from the same budget, so
// the memories can only grow into what is left.
func TestChargedBytesShrinkTheMemories(t *testing.T) {
	const page, limit, tables = 64 << 10, 16 << 20, 6 << 20
	b := newMemoryBudget(limit, nil)
	b.charge(tables)
	m := b.allocator().Allocate(0, limit)
	size := uint64(page)
	for m.Reallocate(size+page) != nil {
		size += page
	}
	if size+tables > limit || size < limit-tables-page {
		t.Errorf("the memory grew to %d bytes beside %d charged, want just under %d together", size, tables, limit)
	}
}
