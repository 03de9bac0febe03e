package main

import "testing"

func TestMemoryRowStatistics(t *testing.T) {
	odd := memoryRow{Peaks: []float64{150, 135, 260, 136, 134}}
	if odd.min() != 134 || odd.median() != 136 || odd.max() != 260 {
		t.Errorf("min/median/max of %v = %v/%v/%v, want 134/136/260", odd.Peaks, odd.min(), odd.median(), odd.max())
	}
	if odd.Peaks[0] != 150 {
		t.Error("the statistics reordered the runs, which the report lists in order")
	}
	even := memoryRow{Peaks: []float64{70, 80, 66, 68}}
	if even.median() != 69 {
		t.Errorf("median of %v = %v, want 69", even.Peaks, even.median())
	}
}

func TestSmapsParts(t *testing.T) {
	const smaps = `00400000-01b00000 r-xp 00000000 fd:01 123 /bin/runbench
Size:              23552 kB
Rss:               20000 kB
01b00000-03000000 r--p 01700000 fd:01 123 /bin/runbench
Rss:               23000 kB
7a80010000-7a80690000 rw-p 00000000 00:00 0 
Rss:                6100 kB
7a8bc00000-7a90000000 rw-p 00000000 00:00 0 
Rss:               31000 kB
7a94000000-7a9c000000 rw-p 00000000 00:00 0 
Rss:               50000 kB
7f0000000000-7f0001200000 r-xp 00000000 00:00 0 
Rss:               18000 kB
7f0002010000-7f0002690000 rw-p 00000000 00:00 0 
Rss:                5900 kB
7f0003000000-7f0003200000 r-xp 00000000 fd:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                 900 kB
7ffd12340000-7ffd12361000 rw-p 00000000 00:00 0                          [stack]
Rss:                 100 kB
7ffd00100000-7ffd00102000 r-xp 00000000 00:00 0                          [vdso]
Rss:                   8 kB
`
	b, err := smapsParts([]byte(smaps), "/bin/runbench", 0x7a8d000010)
	if err != nil {
		t.Fatal(err)
	}
	want := breakdown{RSSKiB: 155008, BinaryKiB: 43000, CodeKiB: 18000, HeapKiB: 81000, OtherKiB: 12100}
	if b != want {
		t.Errorf("smapsParts = %+v, want %+v (the heap: the mapping of its object, from below that arena, and those above; libc and the vdso in the total only)", b, want)
	}
}

// TestSamplerAllocatesNothing: a breakdown that allocated while the sync
// runs would change where the sync's arenas land, and so the peak it
// explains.
func TestSamplerAllocatesNothing(t *testing.T) {
	s, err := startSampler()
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		s.mu.Lock()
		s.best = breakdown{} // so that every sample reads smaps
		s.mu.Unlock()
		s.sample()
	})
	if allocs != 0 {
		t.Errorf("a sample allocated %v times", allocs)
	}
	if b := s.finish(); b.RSSKiB == 0 || b.BinaryKiB == 0 || b.HeapKiB == 0 {
		t.Errorf("breakdown of this test process: %+v, want its RSS, binary and heap", *b)
	}
}
