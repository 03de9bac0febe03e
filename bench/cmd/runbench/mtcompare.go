package main

// The multi-tenant comparison (-multitenant -compare): N simulated workspaces synced
// once by one `baton-runner sync --config … --all` process (all tenants on
// one compiled module) against the same workspaces synced by N concurrent
// `baton-runner sync` processes. Both sides run the real CLI; the parent
// serves the simulators and polls /proc/<pid>/status of the children for
// their RSS, since it cannot read a child's VmHWM after it exits and
// ru_maxrss of a child is inflated by the parent (see peakRSSKiB).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// Target of the multi-tenant issue.
const targetMiBPerTenant = 16.0

const tokenEnv = "RUNBENCH_SIM_TOKEN"

// mtResult is one measured run: one process with n tenants, or n processes.
type mtResult struct {
	Label    string // "one process" or "N processes"
	Tenants  int
	Wall     time.Duration
	CPU      time.Duration // user+sys of every measured process
	PeakKiB  int64         // one process: its VmHWM; N processes: the sum of their VmHWMs
	SumPeak  int64         // peak of the machine-wide sum of the processes' VmRSS
	Requests int           // simulator requests during the run
	OtherCPU time.Duration // machine busy time spent on neither the children nor this process
}

type mtBench struct {
	cli, dir, cache string
	users           int
	sims            []*sim
}

func runCompare(cfg config) error {
	started := time.Now()
	load0 := loadavg()
	cli, err := filepath.Abs(cfg.cli)
	if err != nil {
		return err
	}
	if _, err := os.Stat(cli); err != nil {
		return fmt.Errorf("%w (run `make build` first)", err)
	}
	dir, err := os.MkdirTemp("", "runbench-mt-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &mtBench{cli: cli, dir: dir, cache: filepath.Join(dir, "cache"), users: cfg.users[0]}
	for i := range cfg.tenants {
		wc := segmentsim.DefaultConfig(b.users)
		wc.Seed = int64(i + 1)
		s, err := startSimWorkspace(wc, segmentsim.Options{Latency: cfg.latencies[0]})
		if err != nil {
			return err
		}
		defer s.close()
		b.sims = append(b.sims, s)
	}

	// Warm the compilation cache (untimed) with the same binary and module.
	if _, err := b.oneProcess("warm-up", 1); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "compilation cache warmed\n")

	var one []mtResult
	for _, n := range []int{1, 10, cfg.tenants} {
		if n > cfg.tenants || (len(one) > 0 && one[len(one)-1].Tenants == n) {
			continue
		}
		r, err := b.oneProcess(fmt.Sprintf("one-%d", n), n)
		if err != nil {
			return err
		}
		one = append(one, r)
		logMT(r)
	}
	many, err := b.processes(cfg.tenants)
	if err != nil {
		return err
	}
	logMT(many)

	return writeReport(cfg.out, func(w io.Writer, _ string) error {
		return writeMultitenant(w, cfg, started, load0, loadavg(), one, many)
	})
}

func logMT(r mtResult) {
	fmt.Fprintf(os.Stderr, "%-13s tenants=%-3d wall=%6.1fs cpu=%6.1fs peak=%6.0fMiB sum-peak=%6.0fMiB requests=%d other-cpu=%.1fs\n",
		r.Label, r.Tenants, r.Wall.Seconds(), r.CPU.Seconds(), mib(r.PeakKiB*1024), mib(r.SumPeak*1024), r.Requests, r.OtherCPU.Seconds())
}

func (b *mtBench) requests(n int) int {
	total := 0
	for _, s := range b.sims[:n] {
		total += s.RequestCount()
	}
	return total
}

func (b *mtBench) command(args ...string) *exec.Cmd {
	cmd := exec.Command(b.cli, args...)
	cmd.Env = append(os.Environ(), tokenEnv+"="+segmentsim.DefaultToken, "TMPDIR="+b.dir)
	return cmd
}

// oneProcess syncs the first n workspaces with one
// `baton-runner sync --config runner.toml --all`.
func (b *mtBench) oneProcess(name string, n int) (mtResult, error) {
	dir := filepath.Join(b.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return mtResult{}, err
	}
	var toml strings.Builder
	fmt.Fprintf(&toml, "[runtime]\ncache_dir = %q\nlisten = \"\"\n\n[connectors.segment]\nwasm = \"embedded:segment\"\n", b.cache)
	var files []string
	for i, s := range b.sims[:n] {
		file := filepath.Join(dir, fmt.Sprintf("t%02d.c1z", i+1))
		files = append(files, file)
		fmt.Fprintf(&toml, "\n[[tenants]]\nname = \"t%02d\"\nconnector = \"segment\"\nbase_url = %q\ntoken = \"env:%s\"\nmode = \"sync\"\n\n  [tenants.sync]\n  interval = \"5m\"\n  output = %q\n",
			i+1, s.url, tokenEnv, file)
	}
	conf := filepath.Join(dir, "runner.toml")
	if err := os.WriteFile(conf, []byte(toml.String()), 0o644); err != nil {
		return mtResult{}, err
	}
	r, err := b.measure([]*exec.Cmd{b.command("sync", "--config", conf, "--all", "--log-level", "warn")}, n)
	if err != nil {
		return mtResult{}, err
	}
	r.Label = "one process"
	return r, b.verify(files)
}

// processes syncs the first n workspaces with n concurrent
// `baton-runner sync` processes sharing the warm cache.
func (b *mtBench) processes(n int) (mtResult, error) {
	dir := filepath.Join(b.dir, fmt.Sprintf("procs-%d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return mtResult{}, err
	}
	var cmds []*exec.Cmd
	var files []string
	for i, s := range b.sims[:n] {
		file := filepath.Join(dir, fmt.Sprintf("t%02d.c1z", i+1))
		files = append(files, file)
		cmds = append(cmds, b.command("sync", "--base-url", s.url, "--token", segmentsim.DefaultToken,
			"--file", file, "--cache-dir", b.cache, "--log-level", "warn"))
	}
	r, err := b.measure(cmds, n)
	if err != nil {
		return mtResult{}, err
	}
	r.Label = fmt.Sprintf("%d processes", n)
	return r, b.verify(files)
}

// measure starts cmds together, polls their /proc status every 50 ms until
// the last exits, and sums their rusage.
func (b *mtBench) measure(cmds []*exec.Cmd, tenants int) (mtResult, error) {
	req0, cpu0 := b.requests(tenants), cpuSnapshot()
	stderr := make([]strings.Builder, len(cmds))
	start := time.Now()
	for i, cmd := range cmds {
		cmd.Stderr = &stderr[i]
		if err := cmd.Start(); err != nil {
			for _, c := range cmds[:i] {
				_ = c.Process.Kill()
			}
			return mtResult{}, err
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(cmds))
	for i, cmd := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cmd.Wait(); err != nil {
				errs[i] = fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, tail(stderr[i].String(), 4000))
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	hwm := make([]int64, len(cmds))
	var sumPeak int64
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for polling := true; polling; {
		var sum int64
		for i, cmd := range cmds {
			h, rss, ok := procMem(cmd.Process.Pid)
			if ok {
				hwm[i] = max(hwm[i], h) // a reaped pid reads nothing: keep the last value
				sum += rss
			}
		}
		sumPeak = max(sumPeak, sum)
		select {
		case <-done:
			polling = false
		case <-tick.C:
		}
	}
	wall := time.Since(start)
	cpu1 := cpuSnapshot()
	if err := errors.Join(errs...); err != nil {
		return mtResult{}, err
	}
	r := mtResult{Tenants: tenants, Wall: wall, SumPeak: sumPeak, Requests: b.requests(tenants) - req0}
	for i, cmd := range cmds {
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		r.CPU += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.PeakKiB += hwm[i]
	}
	r.OtherCPU = max(0, cpu1.busy-cpu0.busy-(cpu1.self-cpu0.self)-r.CPU)
	return r, nil
}

// procMem reads VmHWM and VmRSS (KiB) of a live process.
func procMem(pid int) (hwm, rss int64, ok bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		switch k {
		case "VmHWM":
			_, _ = fmt.Sscanf(strings.TrimSpace(v), "%d kB", &hwm)
		case "VmRSS":
			_, _ = fmt.Sscanf(strings.TrimSpace(v), "%d kB", &rss)
		}
	}
	return hwm, rss, hwm > 0 // a zombie has no Vm* lines
}

// verify checks that every c1z is non-empty, and loads the first and the
// last to check they hold the whole workspace.
func (b *mtBench) verify(files []string) error {
	for i, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		if st.Size() == 0 {
			return fmt.Errorf("%s is empty; the sync is broken", f)
		}
		if i != 0 && i != len(files)-1 {
			continue
		}
		sum, err := inspect.Summarize(context.Background(), f, b.dir)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if sum.Resources < b.users || sum.Grants == 0 {
			return fmt.Errorf("%s holds %d resources and %d grants for %d users; the sync is incomplete", f, sum.Resources, sum.Grants, b.users)
		}
	}
	return nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func perTenantMiB(kib int64, n int) float64 { return mib(kib*1024) / float64(n) }

func slopeMiB(a, b mtResult) float64 {
	return mib((b.PeakKiB-a.PeakKiB)*1024) / float64(b.Tenants-a.Tenants)
}

func writeMultitenant(out io.Writer, cfg config, started time.Time, load0, load1 string, one []mtResult, many mtResult) error {
	w := bufio.NewWriter(out)
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	n, lat := cfg.tenants, latencyLabel(cfg.latencies[0])

	p("# Multi-tenant benchmark: one process against one per tenant")
	p("")
	p("%d Segment workspaces of %d users each (simulator, distinct seeds, one HTTP", n, cfg.users[0])
	p("server per workspace on 127.0.0.1, API latency %s) synced once by **one**", lat)
	p("`baton-runner sync --config runner.toml --all` process (all tenants on one")
	p("compiled module, 2 guest instances each) and by **%d separate** `baton-runner sync`", n)
	p("processes started together (2 guest instances each, one shared compilation cache).")
	p("The cache is warmed first, untimed, so neither side compiles. The simulators run")
	p("in the benchmark process and share the cores with the syncs; their CPU is not")
	p("counted. CPU is user+sys from `getrusage` of every measured process. Peak RSS is")
	p("`VmHWM` polled every 50 ms from `/proc/<pid>/status` (the last value read before")
	p("exit); for the N processes it is the sum of their peaks, and \"peak of summed RSS\"")
	p("is the maximum over time of the sum of their `VmRSS`. Every c1z is checked to be")
	p("non-empty, and the first and last of each run are loaded and checked to hold the")
	p("whole workspace. Generated by `bench/cmd/runbench -multitenant -compare`; do not edit the")
	p("tables by hand.")
	p("")
	writeMachine(p, started, time.Since(started))
	p("| load average (1/5/15 min) | before %s, after %s |", load0, load1)
	p("")
	p("## How to run")
	p("")
	p("```sh")
	p("make build")
	p("go run ./bench/cmd/runbench -multitenant -compare -tenants %d -users %d -latency %s -out BENCHMARKS-multitenant-compare.md", n, cfg.users[0], lat)
	p("```")
	p("")
	p("## Results")
	p("")
	p("| mode | tenants | wall s | CPU s | peak RSS MiB | RSS per tenant MiB | peak of summed RSS MiB | requests | other CPU s |")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range append(one[:len(one):len(one)], many) {
		p("| %s | %d | %.1f | %.1f | %.0f | %.1f | %.0f | %d | %.1f |", r.Label, r.Tenants, r.Wall.Seconds(), r.CPU.Seconds(),
			mib(r.PeakKiB*1024), perTenantMiB(r.PeakKiB, r.Tenants), mib(r.SumPeak*1024), r.Requests, r.OtherCPU.Seconds())
	}
	p("")
	p("For one process, peak RSS is its `VmHWM` and the peak of summed RSS is its own")
	p("highest polled `VmRSS`. *Other CPU* is the machine's busy time (`/proc/stat`)")
	p("during the run minus the measured processes and the benchmark process (the")
	p("simulators): CPU that other work on the machine took from the 2 cores. Large")
	p("values make the wall times suspect.")
	p("")
	p("## RSS per additional tenant (one process)")
	p("")
	p("| from → to tenants | RSS from MiB | RSS to MiB | MiB per additional tenant |")
	p("|---|---:|---:|---:|")
	var slopes []float64
	for i := 1; i < len(one); i++ {
		s := slopeMiB(one[0], one[i])
		slopes = append(slopes, s)
		p("| %d → %d | %.0f | %.0f | %.1f |", one[0].Tenants, one[i].Tenants, mib(one[0].PeakKiB*1024), mib(one[i].PeakKiB*1024), s)
	}
	p("")
	p("## Targets")
	p("")
	last := one[len(one)-1]
	if len(slopes) > 0 {
		s := slopes[len(slopes)-1]
		p("- RSS per additional tenant ≤ %.0f MiB: %.1f MiB (%d → %d tenants) — %s", targetMiBPerTenant, s, one[0].Tenants, last.Tenants, passMiss(s <= targetMiBPerTenant))
	}
	p("- one process faster than %d processes: %.1f s vs %.1f s wall (CPU %.1f s vs %.1f s) — %s",
		n, last.Wall.Seconds(), many.Wall.Seconds(), last.CPU.Seconds(), many.CPU.Seconds(), passMiss(last.Wall < many.Wall))
	p("- one process smaller than %d processes (peak of summed RSS): %.0f MiB vs %.0f MiB (sum of peaks %.0f MiB) — %s",
		n, mib(last.PeakKiB*1024), mib(many.SumPeak*1024), mib(many.PeakKiB*1024), passMiss(last.PeakKiB < many.SumPeak))
	return w.Flush()
}
