package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// sim is a simulator served on 127.0.0.1 by the parent process. It notes
// when the first request arrives (before the simulated latency), which is
// what the cold-start measurement needs; the simulator's own records are
// appended only when a response is done.
type sim struct {
	*segmentsim.Server
	url  string
	hs   *http.Server
	mu   sync.Mutex
	wait bool // waiting for the first request since resetFirst
	t0   time.Time
}

func startSim(users int, opts segmentsim.Options) (*sim, error) {
	return startSimWorkspace(segmentsim.DefaultConfig(users), opts)
}

// startSimWorkspace serves a workspace generated from cfg.
func startSimWorkspace(cfg segmentsim.Config, opts segmentsim.Options) (*sim, error) {
	s := &sim{Server: segmentsim.NewServer(segmentsim.Generate(cfg), opts)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.url = "http://" + lis.Addr().String()
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.hs.Serve(lis) }()
	return s, nil
}

func (s *sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.wait {
		s.wait, s.t0 = false, time.Now()
	}
	s.mu.Unlock()
	s.Server.ServeHTTP(w, r)
}

// resetFirst forgets the first-request time, so the next request sets it.
func (s *sim) resetFirst() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wait, s.t0 = true, time.Time{}
}

// firstRequest returns when the first request since resetFirst arrived.
func (s *sim) firstRequest() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t0, !s.t0.IsZero()
}

func (s *sim) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.hs.Shutdown(ctx)
}

// procStats is what the parent measures about one child process.
type procStats struct {
	Wall      time.Duration
	User, Sys time.Duration
	MaxRSSKiB int64
	Stdout    []byte
}

// runChild runs a child to completion and reads its rusage. onStart is
// called with the time taken just before cmd.Start. A failed child is an
// error carrying the tail of its stderr, so a broken run is never reported
// as a number.
func runChild(cmd *exec.Cmd, onStart func(time.Time)) (procStats, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if onStart != nil {
		onStart(start)
	}
	if err := cmd.Start(); err != nil {
		return procStats{}, err
	}
	err := cmd.Wait()
	wall := time.Since(start)
	if err != nil {
		return procStats{}, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, tail(stderr.String(), 4000))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return procStats{}, errors.New("no rusage for child process (Linux/Unix only)")
	}
	return procStats{
		Wall:      wall,
		User:      time.Duration(ru.Utime.Nano()),
		Sys:       time.Duration(ru.Stime.Nano()),
		MaxRSSKiB: ru.Maxrss, // KiB on Linux
		Stdout:    stdout.Bytes(),
	}, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// scenario is one sync benchmark: a mode against a workspace size, a
// simulated API latency and, optionally, a read limit (requests per
// window of ReadWindow, a minute when zero, as `sim --read-limit`).
type scenario struct {
	Mode       string
	Users      int
	Latency    time.Duration
	ReadLimit  int
	ReadWindow time.Duration
	// Breakdown has the worker sample its memory (worker --breakdown).
	Breakdown bool
}

func (sc scenario) name() string {
	n := fmt.Sprintf("%s-%d-%s", sc.Mode, sc.Users, latencyLabel(sc.Latency))
	if sc.ReadLimit > 0 {
		n += fmt.Sprintf("-rl%d", sc.ReadLimit)
		if sc.ReadWindow > 0 {
			n += "per" + sc.ReadWindow.String()
		}
	}
	return n
}

// window is the length of the read limit's window.
func (sc scenario) window() time.Duration { return cmp.Or(sc.ReadWindow, time.Minute) }

// limitLabel says the read limit as "600/min" or "20/s".
func (sc scenario) limitLabel() string {
	switch w := sc.window(); w {
	case time.Minute:
		return fmt.Sprintf("%d/min", sc.ReadLimit)
	case time.Second:
		return fmt.Sprintf("%d/s", sc.ReadLimit)
	default:
		return fmt.Sprintf("%d/%s", sc.ReadLimit, w)
	}
}

func latencyLabel(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }

// syncResult is one measured scenario.
type syncResult struct {
	scenario
	procStats
	Worker   workerResult
	Requests int
	// Limited counts the answers that were 429 (included in Requests).
	Limited  int
	ByRoute  map[string]int
	Grants   int
	Res, Ent int
	// OtherCPU is CPU time the machine spent on neither the worker nor
	// this process (the simulator) during the run: other people's builds
	// and tests competing for the cores. Large values make the run suspect.
	OtherCPU time.Duration
}

// cpuTimes is the machine's busy CPU time (from /proc/stat) and this
// process's own CPU time at one instant.
type cpuTimes struct{ busy, self time.Duration }

func cpuSnapshot() cpuTimes {
	var t cpuTimes
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		t.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	// First line: cpu user nice system idle iowait irq softirq steal …, in
	// USER_HZ ticks (100 per second on Linux).
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return t
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	t.busy = time.Duration(busy) * (time.Second / 100)
	return t
}

// benchEnv is what every scenario shares.
type benchEnv struct {
	self       string // this executable, re-executed as the worker
	wasm       string
	cacheDir   string // warm compilation cache shared by sandboxed scenarios
	workDir    string
	profileDir string
}

// runScenario starts a simulator, runs one worker sync against it and
// checks the c1z it wrote.
func (e *benchEnv) runScenario(sc scenario) (syncResult, error) {
	s, err := startSim(sc.Users, segmentsim.Options{Latency: sc.Latency, ReadLimitPerMinute: sc.ReadLimit, RateWindow: sc.ReadWindow})
	if err != nil {
		return syncResult{}, err
	}
	defer s.close()
	dir, err := os.MkdirTemp(e.workDir, sc.name()+"-")
	if err != nil {
		return syncResult{}, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "sync.c1z")
	args := []string{"worker", "--mode", sc.Mode, "--base-url", s.url, "--file", file,
		"--cache-dir", e.cacheDir, "--wasm", e.wasm, "--tmp-dir", dir}
	switch {
	case sc.Breakdown:
		args = append(args, "--breakdown") // the scenario's profile is its unsampled run's
	case e.profileDir != "":
		args = append(args, "--cpuprofile", filepath.Join(e.profileDir, sc.name()+".pprof"))
	}
	before := s.RequestCount()
	cpu0 := cpuSnapshot()
	ps, err := runChild(exec.Command(e.self, args...), nil)
	if err != nil {
		return syncResult{}, err
	}
	cpu1 := cpuSnapshot()
	r := syncResult{scenario: sc, procStats: ps, Requests: s.RequestCount() - before, ByRoute: routes(s.Requests())}
	for _, rec := range s.Requests() {
		if rec.Status == http.StatusTooManyRequests {
			r.Limited++
		}
	}
	if err := json.Unmarshal(bytes.TrimSpace(ps.Stdout), &r.Worker); err != nil {
		return syncResult{}, fmt.Errorf("%s: reading worker result %q: %w", sc.name(), ps.Stdout, err)
	}
	if r.Worker.PeakRSSKiB > 0 {
		r.MaxRSSKiB = r.Worker.PeakRSSKiB // see peakRSSKiB for why not rusage
	}
	r.OtherCPU = max(0, cpu1.busy-cpu0.busy-(cpu1.self-cpu0.self)-(ps.User+ps.Sys))
	sum, err := inspect.Summarize(context.Background(), file, dir)
	if err != nil {
		return syncResult{}, fmt.Errorf("%s: %w", sc.name(), err)
	}
	r.Res, r.Ent, r.Grants = sum.Resources, sum.Entitlements, sum.Grants
	if r.Res == 0 || r.Grants == 0 {
		return syncResult{}, fmt.Errorf("%s: c1z holds %d resources and %d grants; the sync is broken", sc.name(), r.Res, r.Grants)
	}
	// Every user and every pending invite of the workspace is in the c1z.
	ws := s.Snapshot()
	counts := map[string]int{}
	for _, c := range sum.Types {
		counts[c.ResourceType] = c.Resources
	}
	if counts["user"] != len(ws.Users) || counts["invite"] != len(ws.Invites) {
		return syncResult{}, fmt.Errorf("%s: c1z holds %d users and %d invites, the workspace %d and %d; the sync is incomplete",
			sc.name(), counts["user"], counts["invite"], len(ws.Users), len(ws.Invites))
	}
	return r, nil
}

// routes counts requests per route, with ids replaced by {id}, so the
// report can tell list pages from per-item requests.
func routes(recs []segmentsim.RequestRecord) map[string]int {
	out := map[string]int{}
	for _, r := range recs {
		segs := strings.Split(strings.Trim(r.Path, "/"), "/")
		if len(segs) >= 2 {
			segs[1] = "{id}"
		}
		key := r.Method + " /" + strings.Join(segs, "/")
		if r.Status != http.StatusOK {
			key += fmt.Sprintf(" (%d)", r.Status)
		}
		out[key]++
	}
	return out
}

// coldRun is one timed CLI sync.
type coldRun struct {
	ToFirstRequest time.Duration
	ToExit         time.Duration
}

// coldStart times `baton-runner sync` from process start to the
// simulator's first request and to exit. Each run with warm=false gets a
// new, empty compilation cache; warm=true primes one cache with an untimed
// run first and reuses it.
func (e *benchEnv) coldStart(cli string, runs int, warm bool) ([]coldRun, error) {
	s, err := startSim(100, segmentsim.Options{})
	if err != nil {
		return nil, err
	}
	defer s.close()
	dir, err := os.MkdirTemp(e.workDir, "coldstart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cache := filepath.Join(dir, "warm-cache")
	one := func(i int) (coldRun, error) {
		if !warm {
			cache = filepath.Join(dir, fmt.Sprintf("empty-cache-%d", i))
		}
		cmd := exec.Command(cli, "sync", "--base-url", s.url, "--token", segmentsim.DefaultToken,
			"--file", filepath.Join(dir, fmt.Sprintf("sync-%d.c1z", i)), "--cache-dir", cache)
		cmd.Env = append(os.Environ(), "TMPDIR="+dir)
		var start time.Time
		s.resetFirst()
		ps, err := runChild(cmd, func(t time.Time) { start = t })
		if err != nil {
			return coldRun{}, err
		}
		first, ok := s.firstRequest()
		if !ok {
			return coldRun{}, errors.New("cold start: the CLI exited without sending a request")
		}
		return coldRun{ToFirstRequest: first.Sub(start), ToExit: ps.Wall}, nil
	}
	if warm {
		if _, err := one(-1); err != nil {
			return nil, err
		}
	}
	out := make([]coldRun, 0, runs)
	for i := range runs {
		r, err := one(i)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
