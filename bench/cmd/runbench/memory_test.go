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
