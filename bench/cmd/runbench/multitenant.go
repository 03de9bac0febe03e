package main

// The multi-tenant benchmark (-multitenant): many tenants in one
// `baton-runner serve` process, the real binary, over a generated
// runner.toml with a process memory budget. Each scenario is N simulated
// workspaces (distinct seeds, one HTTP server each, served by this
// process) synced on an interval until every tenant has completed two
// syncs; then, with no sync running, the idle process is read, /metrics
// and /status are fetched, and serve gets SIGTERM. The same is run with
// one tenant first, whose idle RSS is what N−1 more tenants are measured
// against. What serve logs (JSON) says when each sync started and how
// long it waited (servelog.go); /proc/<pid> says its memory, descriptors
// and threads; its rusage its CPU.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// Targets of issue 21 ("500 tenants in one process").
const (
	defaultBudgetMiB = 2048
	// defaultScenarios are issue 21's two shapes. The intervals leave
	// room over a round extrapolated from smaller runs on two cores:
	// ~0.6 CPU s of serve and 0.05 of the simulators per 100-user sync
	// (~160 s for 500), ~20 and 3 per 10k-user sync (~10 min for 50).
	defaultScenarios = "500x100@5m,50x10000@15m"
	// defaultMaxSyncs lets the memory budget, not the slot count, bound
	// how many syncs run: at 20 ms API latency a 100-user sync waits on
	// the API more than it computes, and two slots leave the cores idle.
	defaultMaxSyncs = 8
	// syncsPerTenant is how many syncs every tenant completes: two give
	// one gap between starts to hold against the interval.
	syncsPerTenant = 2
	// idleWindow is how long the idle process is read after a round: the
	// lowest RSS in it is its idle RSS.
	idleWindow = 10 * time.Second
)

// serveScenario is one -scenarios entry: tenants of users users each,
// synced every interval.
type serveScenario struct {
	Tenants, Users int
	Interval       time.Duration
}

func (s serveScenario) String() string {
	return fmt.Sprintf("%dx%d@%s", s.Tenants, s.Users, s.Interval)
}

// parseScenarios reads "500x100@4m,50x10000@10m".
func parseScenarios(list string) ([]serveScenario, error) {
	var out []serveScenario
	for _, f := range splitList(list) {
		size, every, ok := strings.Cut(f, "@")
		ts, us, ok2 := strings.Cut(size, "x")
		if !ok || !ok2 {
			return nil, fmt.Errorf("-scenarios: %q is not TENANTSxUSERS@INTERVAL, e.g. 500x100@4m", f)
		}
		t, err1 := strconv.Atoi(ts)
		u, err2 := strconv.Atoi(us)
		d, err3 := time.ParseDuration(every)
		if err := errors.Join(err1, err2, err3); err != nil || t < 1 || u < 1 {
			return nil, fmt.Errorf("-scenarios: %q is not TENANTSxUSERS@INTERVAL with positive numbers, e.g. 500x100@4m", f)
		}
		if d < time.Minute {
			return nil, fmt.Errorf("-scenarios: %q: serve takes intervals of at least 1m", f)
		}
		out = append(out, serveScenario{Tenants: t, Users: u, Interval: d})
	}
	if len(out) == 0 {
		return nil, errors.New("-scenarios: no scenario given")
	}
	return out, nil
}

// serveResult is what one serve process measured.
type serveResult struct {
	serveScenario
	Wall       time.Duration // start to exit
	Ready      time.Duration // start to /readyz answering 200: every tenant started
	Shutdown   time.Duration // SIGTERM to exit
	CPU        time.Duration
	SimCPU     time.Duration // this process's: the simulators
	OtherCPU   time.Duration // machine busy time spent on neither serve nor this process
	HWMKiB     int64         // VmHWM, last read
	MaxRSSKiB  int64         // highest polled VmRSS
	IdleRSSKiB int64         // lowest VmRSS in the idle window
	// IdleSettled is baton_runner_memory_idle_bytes: serve's RSS when the
	// second round's first sync was admitted with none running, read by
	// serve after a GC that returned the freed heap to the system.
	IdleSettled float64
	Goroutines  float64 // go_goroutines in the idle window
	MaxFDs      int
	MaxThreads  int
	Requests    int
	Failed      float64 // baton_runner_syncs_total{result="failure"}
	Sched       schedule
	// The sync wait histogram: its count and its p50 and p99 estimates.
	HistCount        uint64
	HistP50, HistP99 float64
	MetricsBytes     int
	MetricsTime      time.Duration
	StatusBytes      int
	StatusTime       time.Duration
}

// serveRun is one scenario: its tenants, and one of them alone.
type serveRun struct {
	Full, Alone serveResult
}

type serveBench struct {
	cli, dir, cache string
	logDir          string // where serve's logs are kept; "" keeps none
	budgetMiB       int
	maxSyncs        int
	latency         time.Duration
}

func runMultitenant(cfg config) error {
	if cfg.compare {
		return runCompare(cfg)
	}
	started, load0 := time.Now(), loadavg()
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
	b := &serveBench{cli: cli, dir: dir, cache: filepath.Join(dir, "cache"), logDir: cfg.serveLogs, budgetMiB: cfg.budgetMiB, maxSyncs: cfg.maxSyncs, latency: cfg.latencies[0]}
	if b.logDir != "" {
		if err := os.MkdirAll(b.logDir, 0o755); err != nil {
			return err
		}
	}
	var runs []serveRun
	for _, sc := range cfg.scenarios {
		r, err := b.scenario(sc)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", sc, err)
		}
		runs = append(runs, r)
	}

	return writeReport(cfg.out, func(w io.Writer, analysis string) error {
		return writeServeReport(w, cfg, started, load0, loadavg(), runs, analysis)
	})
}

// scenario serves its workspaces, runs one tenant alone (which also
// fills the compilation cache before the first scenario), then all.
func (b *serveBench) scenario(sc serveScenario) (serveRun, error) {
	t0 := time.Now()
	var sims []*sim
	defer func() {
		for _, s := range sims {
			s.close()
		}
	}()
	for i := range sc.Tenants {
		wc := segmentsim.DefaultConfig(sc.Users)
		wc.Seed = int64(i + 1)
		s, err := startSimWorkspace(wc, segmentsim.Options{Latency: b.latency})
		if err != nil {
			return serveRun{}, err
		}
		sims = append(sims, s)
	}
	fmt.Fprintf(os.Stderr, "%s: %d simulators up in %s\n", sc, sc.Tenants, time.Since(t0).Round(time.Millisecond))
	alone, err := b.serve(serveScenario{Tenants: 1, Users: sc.Users, Interval: time.Minute}, sims[:1])
	if err != nil {
		return serveRun{}, fmt.Errorf("one tenant alone: %w", err)
	}
	logServe("alone", alone)
	full, err := b.serve(sc, sims)
	if err != nil {
		return serveRun{}, err
	}
	logServe("all", full)
	return serveRun{Full: full, Alone: alone}, nil
}

func logServe(what string, r serveResult) {
	s := r.Sched
	fmt.Fprintf(os.Stderr, "%s %-5s tenants=%d wall=%.1fs ready=%.1fs cpu=%.1fs hwm=%.0fMiB idle=%.0fMiB syncs=%d min-done=%d max-gap=%.1fs late=%d first waits p50/p99/max=%.1f/%.1f/%.1fs later=%.1f/%.1f/%.1fs requests=%d errors=%d sim-cpu=%.1fs other-cpu=%.1fs\n",
		r.serveScenario, what, r.Tenants, r.Wall.Seconds(), r.Ready.Seconds(), r.CPU.Seconds(), mib(r.HWMKiB*1024), mib(r.IdleRSSKiB*1024),
		s.Syncs, s.MinDone, s.MaxGap.Seconds(), s.Late, s.First.P50.Seconds(), s.First.P99.Seconds(), s.First.Max.Seconds(), s.Later.P50.Seconds(), s.Later.P99.Seconds(), s.Later.Max.Seconds(), r.Requests, s.Errors, r.SimCPU.Seconds(), r.OtherCPU.Seconds())
}

func tenantNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t%03d", i+1)
	}
	return out
}

// config writes runner.toml for sims and returns its path and the c1z
// files.
func (b *serveBench) config(dir string, sc serveScenario, sims []*sim, listen string) (string, []string, error) {
	var toml strings.Builder
	fmt.Fprintf(&toml, "[runtime]\ncache_dir = %q\nlisten = %q\nprocess_memory_mib = %d\n", b.cache, listen, b.budgetMiB)
	if b.maxSyncs > 0 {
		fmt.Fprintf(&toml, "max_concurrent_syncs = %d\n", b.maxSyncs)
	}
	fmt.Fprintf(&toml, "\n[connectors.segment]\nwasm = \"embedded:segment\"\n")
	names := tenantNames(len(sims))
	var files []string
	for i, s := range sims {
		file := filepath.Join(dir, names[i]+".c1z")
		files = append(files, file)
		fmt.Fprintf(&toml, "\n[[tenants]]\nname = %q\nconnector = \"segment\"\nbase_url = %q\ntoken = \"env:%s\"\nmode = \"sync\"\n\n  [tenants.sync]\n  interval = %q\n  output = %q\n",
			names[i], s.url, tokenEnv, sc.Interval.String(), file)
	}
	conf := filepath.Join(dir, "runner.toml")
	return conf, files, os.WriteFile(conf, []byte(toml.String()), 0o644)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// serve runs `baton-runner serve` over sims until each tenant completed
// syncsPerTenant syncs and none runs, reads the idle process, and stops
// it.
func (b *serveBench) serve(sc serveScenario, sims []*sim) (serveResult, error) {
	const syncs = syncsPerTenant
	dir, err := os.MkdirTemp(b.dir, fmt.Sprintf("serve-%d-", len(sims)))
	if err != nil {
		return serveResult{}, err
	}
	defer os.RemoveAll(dir)
	addr, err := freeAddr()
	if err != nil {
		return serveResult{}, err
	}
	conf, files, err := b.config(dir, sc, sims, addr)
	if err != nil {
		return serveResult{}, err
	}
	names := tenantNames(len(sims))
	requests := func() int {
		n := 0
		for _, s := range sims {
			n += s.RequestCount()
		}
		return n
	}

	cmd := exec.Command(b.cli, "serve", "--config", conf, "--log-format", "json", "--log-level", "info")
	cmd.Env = append(os.Environ(), tokenEnv+"="+segmentsim.DefaultToken, "TMPDIR="+dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return serveResult{}, err
	}
	keep := io.Discard
	if b.logDir != "" {
		f, err := os.Create(filepath.Join(b.logDir, fmt.Sprintf("serve-%dx%d.log", len(sims), sc.Users)))
		if err != nil {
			return serveResult{}, err
		}
		defer f.Close()
		keep = f
	}
	logs := newServeLog()
	var lastLines tailBuffer
	scanned := make(chan struct{})
	req0, cpu0 := requests(), cpuSnapshot()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return serveResult{}, err
	}
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			_, _ = keep.Write(append(sc.Bytes(), '\n'))
			logs.add(sc.Bytes())
			lastLines.add(sc.Text())
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	exited := make(chan error, 1)
	go func() { <-scanned; exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	r := serveResult{serveScenario: sc}
	base := "http://" + addr
	m := &procMonitor{pid: cmd.Process.Pid}
	// Two rounds take at most two intervals plus the second round's
	// syncs; a third interval is the margin before calling it a failure.
	deadline := start.Add(time.Duration(syncs+1)*sc.Interval + 2*time.Minute)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	// The idle window opens once every tenant completed its syncs and
	// none runs, and closes after idleWindow or when a sync starts.
	var idleSince time.Time
	var idleSyncs int
	for m.idle || idleSince.IsZero() {
		select {
		case err := <-exited:
			return serveResult{}, fmt.Errorf("serve exited early: %v\n%s", err, lastLines.String())
		case <-tick.C:
		}
		m.poll()
		if r.Ready == 0 && ready(base) {
			r.Ready = time.Since(start)
			fmt.Fprintf(os.Stderr, "%s: %d tenant(s) started in %s\n", sc, len(sims), r.Ready.Round(time.Millisecond))
		}
		done, running, started := logs.progress(names, syncs)
		switch {
		case idleSince.IsZero() && done == len(names) && running == 0 && r.Ready > 0:
			idleSince, idleSyncs = time.Now(), started
			m.idle = true
		case !idleSince.IsZero() && (time.Since(idleSince) >= idleWindow || started != idleSyncs):
			m.idle = false
		case idleSince.IsZero() && time.Now().After(deadline):
			stop()
			return serveResult{}, fmt.Errorf("after %s, %d of %d tenants completed %d syncs (%d running); the interval %s is too short for this scale, or syncs fail:\n%s",
				time.Since(start).Round(time.Second), done, len(names), syncs, running, sc.Interval, lastLines.String())
		}
	}
	r.IdleRSSKiB = m.idleRSS
	if err := r.scrape(base); err != nil {
		stop()
		return serveResult{}, err
	}

	term := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		stop()
		return serveResult{}, err
	}
	var exitErr error
	select {
	case exitErr = <-exited:
	case <-time.After(2 * time.Minute):
		stop()
		return serveResult{}, fmt.Errorf("serve did not exit within 2m of SIGTERM:\n%s", lastLines.String())
	}
	r.Shutdown, r.Wall = time.Since(term), time.Since(start)
	if exitErr != nil {
		return serveResult{}, fmt.Errorf("serve: %w\n%s", exitErr, lastLines.String())
	}
	cpu1 := cpuSnapshot()
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	r.SimCPU = cpu1.self - cpu0.self
	r.OtherCPU = max(0, cpu1.busy-cpu0.busy-r.SimCPU-r.CPU)
	r.HWMKiB, r.MaxRSSKiB, r.MaxFDs, r.MaxThreads = m.hwm, m.maxRSS, m.maxFDs, m.maxThreads
	r.Requests = requests() - req0
	r.Sched = logs.schedule(names, sc.Interval)
	return r, verifyC1Zs(files, dir, sc.Users)
}

func ready(base string) bool {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// scrape reads /metrics and /status of the idle process: their size and
// time, the sync wait histogram, failed syncs, the Go heap and goroutines.
func (r *serveResult) scrape(base string) error {
	body, took, err := fetchBody(base + "/metrics")
	if err != nil {
		return err
	}
	r.MetricsBytes, r.MetricsTime = len(body), took
	families, err := new(expfmt.TextParser).TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return fmt.Errorf("/metrics: %w", err)
	}
	gauge := func(name string) float64 {
		if f := families[name]; f != nil && len(f.GetMetric()) > 0 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
		return 0
	}
	r.IdleSettled, r.Goroutines = gauge("baton_runner_memory_idle_bytes"), gauge("go_goroutines")
	if f := families["baton_runner_syncs_total"]; f != nil {
		for _, m := range f.GetMetric() {
			if labelIs(m, "result", "failure") {
				r.Failed += m.GetCounter().GetValue()
			}
		}
	}
	f := families["baton_runner_sync_wait_seconds"]
	if f == nil || len(f.GetMetric()) != 1 {
		return errors.New("/metrics has no baton_runner_sync_wait_seconds histogram; is bin/baton-runner older than this benchmark? (make build)")
	}
	h := f.GetMetric()[0].GetHistogram()
	r.HistCount = h.GetSampleCount()
	if r.HistP50, err = histQuantile(h, 0.5); err != nil {
		return fmt.Errorf("baton_runner_sync_wait_seconds: %w", err)
	}
	r.HistP99, _ = histQuantile(h, 0.99)
	body, took, err = fetchBody(base + "/status")
	if err != nil {
		return err
	}
	r.StatusBytes, r.StatusTime = len(body), took
	return nil
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue() == value
		}
	}
	return false
}

func fetchBody(url string) ([]byte, time.Duration, error) {
	t0 := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(t0)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", url, resp.Status)
	}
	return body, took, err
}

// procMonitor polls a process's memory, descriptors and threads.
type procMonitor struct {
	pid                int
	hwm, maxRSS        int64
	maxFDs, maxThreads int
	idle               bool  // in the idle window: keep its lowest RSS
	idleRSS            int64 // lowest VmRSS read while idle
}

func (m *procMonitor) poll() {
	hwm, rss, ok := procMem(m.pid)
	if !ok {
		return
	}
	m.hwm, m.maxRSS = max(m.hwm, hwm), max(m.maxRSS, rss)
	if m.idle && (m.idleRSS == 0 || rss < m.idleRSS) {
		m.idleRSS = rss
	}
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", m.pid)); err == nil {
		m.maxFDs = max(m.maxFDs, len(fds))
	}
	if n, err := strconv.Atoi(procField(fmt.Sprintf("/proc/%d/status", m.pid), "Threads")); err == nil {
		m.maxThreads = max(m.maxThreads, n)
	}
}

// verifyC1Zs checks that every c1z is non-empty, and loads the first and
// the last to check they hold the whole workspace.
func verifyC1Zs(files []string, tmp string, users int) error {
	return (&mtBench{dir: tmp, users: users}).verify(files)
}

// tailBuffer keeps the last lines of a log for error messages.
type tailBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (t *tailBuffer) add(line string) {
	const keep = 20
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == keep {
		t.lines = t.lines[1:]
	}
	t.lines = append(t.lines, line)
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
