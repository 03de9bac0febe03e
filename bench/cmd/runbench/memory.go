package main

import (
	"fmt"
	"os"
	"slices"
	"time"
)

// Targets of issue 21 for the memory rows.
const (
	// targetSpreadMiB: the same sync, the same peak (max − min of its runs).
	targetSpreadMiB = 32.0
	// targetOverheadMiB: sandboxed median peak over the native one.
	targetOverheadMiB = 25.0
)

// memoryRow is the peak RSS of one mode and size over repeated runs.
type memoryRow struct {
	Users int
	Mode  string
	Peaks []float64 // MiB, in run order
	CPU   []time.Duration
	// At is what one more run's memory was at its highest sampled RSS.
	At *breakdown
}

func (m memoryRow) sorted() []float64 { return slices.Sorted(slices.Values(m.Peaks)) }
func (m memoryRow) min() float64      { return m.sorted()[0] }
func (m memoryRow) max() float64      { return m.sorted()[len(m.Peaks)-1] }
func (m memoryRow) median() float64 {
	s := m.sorted()
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// runMemory syncs each size runs times per mode at latency, the modes in
// turn (native, sandboxed, native, …), so that both see the machine in the
// same state; every run is its own worker process, and its peak is that
// process's VmHWM. Then one more run per mode and size samples what the
// memory is made of (worker --breakdown), apart, since sampling costs CPU.
func (e *benchEnv) runMemory(users []int, modes []string, runs int, latency time.Duration) ([]memoryRow, error) {
	var rows []memoryRow
	for _, u := range users {
		byMode := map[string]*memoryRow{}
		for _, mode := range modes {
			byMode[mode] = &memoryRow{Users: u, Mode: mode}
		}
		for i := range runs {
			for _, mode := range modes {
				r, err := e.runScenario(scenario{Mode: mode, Users: u, Latency: latency})
				if err != nil {
					return nil, err
				}
				row := byMode[mode]
				row.Peaks = append(row.Peaks, mib(r.MaxRSSKiB*1024))
				row.CPU = append(row.CPU, r.User+r.Sys)
				fmt.Fprintf(os.Stderr, "memory %d/%d %-9s %5d users: peak %5.0f MiB, CPU %5.1f s\n", i+1, runs, mode, u, mib(r.MaxRSSKiB*1024), (r.User + r.Sys).Seconds())
			}
		}
		for _, mode := range modes {
			r, err := e.runScenario(scenario{Mode: mode, Users: u, Latency: latency, Breakdown: true})
			if err != nil {
				return nil, err
			}
			if r.Worker.Breakdown == nil {
				return nil, fmt.Errorf("%s: the worker reported no breakdown", r.name())
			}
			byMode[mode].At = r.Worker.Breakdown
			rows = append(rows, *byMode[mode])
		}
	}
	return rows, nil
}

func (r *report) writeMemory(p func(string, ...any)) {
	if len(r.memory) == 0 {
		return
	}
	p("## Peak RSS, run after run")
	p("")
	p("The same sync repeated, native and sandboxed in turn, %d runs each, at %s", len(r.memory[0].Peaks), latencyLabel(r.cfg.memoryLatency))
	p("latency (peak RSS = the worker's VmHWM). Issue 21: the same sync should peak")
	p("the same (spread = max − min) and the sandbox should add at most %.0f MiB over", targetOverheadMiB)
	p("native (difference of the medians). Where the memory goes: the Analysis section.")
	p("")
	p("| users | mode | runs (MiB, in order) | min | median | max | spread | CPU median (s) |")
	p("|---:|---|---|---:|---:|---:|---:|---:|")
	for _, m := range r.memory {
		cpu := slices.Sorted(slices.Values(m.CPU))
		runs := ""
		for i, v := range m.Peaks {
			if i > 0 {
				runs += ", "
			}
			runs += fmt.Sprintf("%.0f", v)
		}
		p("| %d | %s | %s | %.0f | %.0f | %.0f | %.0f | %s |", m.Users, m.Mode, runs, m.min(), m.median(), m.max(), m.max()-m.min(), secs(cpu[len(cpu)/2]))
	}
	p("")
	p("What the memory was made of at the highest RSS of one more run of each, sampled")
	p("by the worker from `/proc/self/smaps` whenever its RSS (`/proc/self/statm`, every")
	p("%s) had grown by %d MiB, in MiB: the executable's file pages; anonymous executable", sampleEvery, sampleStep>>10)
	p("memory, which only wazero maps (the guest's machine code); the Go heap's arenas;")
	p("the other anonymous memory (the guest instances' linear memories, Pebble's memtables")
	p("and cache, which it takes from C's calloc in a cgo build, the Go runtime's stacks and")
	p("metadata). Libc and the vdso make up the rest of the RSS. The last column is the")
	p("linear memory the instances had committed, pages never touched included.")
	p("")
	p("| users | mode | RSS at the peak | binary | guest machine code | Go heap | other anonymous | guest linear memory committed |")
	p("|---:|---|---:|---:|---:|---:|---:|---:|")
	for _, m := range r.memory {
		if b := m.At; b != nil {
			p("| %d | %s | %.0f | %.0f | %.1f | %.1f | %.1f | %.1f |", m.Users, m.Mode,
				mib(b.RSSKiB<<10), mib(b.BinaryKiB<<10), mib(b.CodeKiB<<10), mib(b.HeapKiB<<10), mib(b.OtherKiB<<10), mib(b.GuestKiB<<10))
		}
	}
	p("")
}

// memoryTargets writes the rows of the targets table for the memory runs.
func (r *report) memoryTargets(p func(string, ...any)) {
	median := map[[2]any]float64{}
	for _, m := range r.memory {
		median[[2]any{m.Users, m.Mode}] = m.median()
		p("| same sync, same peak: spread ≤ %.0f MiB, %s, %d users (%d runs) | %.0f MiB | %s |",
			targetSpreadMiB, m.Mode, m.Users, len(m.Peaks), m.max()-m.min(), passMiss(m.max()-m.min() <= targetSpreadMiB))
	}
	for _, u := range r.cfg.users {
		s, ok1 := median[[2]any{u, "sandboxed"}]
		n, ok2 := median[[2]any{u, "native"}]
		if ok1 && ok2 {
			p("| sandbox overhead ≤ %.0f MiB over native (median peaks), %d users | %+.0f MiB | %s |", targetOverheadMiB, u, s-n, passMiss(s-n <= targetOverheadMiB))
		}
	}
}
