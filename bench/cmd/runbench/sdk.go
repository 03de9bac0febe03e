package main

// The baton-sdk guests benchmark (-sdk-users): the demo connector
// (examples/baton-demo), written only against baton-sdk and uhttp, synced
// sandboxed by `baton-runner sync --module` and natively by its own
// binary (baton-sdk's runner), against the demo API that this process
// serves over TLS. Both are the real programs, so the sandboxed side pays
// everything a baton-sdk guest pays: the in-guest proxy and its TLS, the
// host's egress, the transport frames; the native side runs baton-sdk's
// runner, which serves the connector from a subprocess of its own.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/baton-runner/baton-runner/examples/baton-demo/demoapi"
	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

const (
	sdkGuestPkg  = "examples/baton-demo/wasm"
	sdkNativePkg = "./examples/baton-demo/cmd/baton-demo"
	// targetSDKCPURatio is issue 19's: a baton-sdk guest's sync costs at
	// most this many times the CPU of the same connector run natively.
	targetSDKCPURatio = 3.0
	// sdkCopies is how many times each byte of a response body is copied
	// in the sandbox beyond what the native connector does; see
	// writeSDKProxy for the list.
	sdkCopies = 9
)

// sdkConfig is the command line of the baton-sdk section.
type sdkConfig struct {
	users          []int
	runs, coldRuns int
	// module and native are prebuilt programs; empty means build them
	// from the checkout.
	module, native string
}

// sdkSeed is the organisation of a size: groups and roles grow with the
// users, so the grants (memberships, role assignments and their
// expansion through groups) do too.
func sdkSeed(users int) demoapi.Options {
	return demoapi.Options{Seed: 19, Users: users, Groups: max(demoapi.DefaultGroups, users/250), Roles: max(demoapi.DefaultRoles, users/1000)}
}

// demoAPI is a demoapi server on a TLS listener of 127.0.0.1 that counts
// requests and response body bytes and notes when the first request since
// resetFirst arrived.
type demoAPI struct {
	*demoapi.Server
	port  string
	hs    *http.Server
	bytes atomic.Int64

	mu       sync.Mutex
	requests int
	wait     bool
	t0       time.Time
}

func startDemoAPI(opts demoapi.Options, certs *demoapi.Certs) (*demoAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &demoAPI{Server: demoapi.New(opts)}
	_, d.port, _ = net.SplitHostPort(ln.Addr().String())
	d.hs = &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = d.hs.Serve(tls.NewListener(ln, certs.ServerConfig())) }()
	return d, nil
}

func (d *demoAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.requests++
	if d.wait {
		d.wait, d.t0 = false, time.Now()
	}
	d.mu.Unlock()
	d.Server.ServeHTTP(&countingWriter{ResponseWriter: w, n: &d.bytes}, r)
}

// countingWriter adds the body bytes written to n.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n.Add(int64(n))
	return n, err
}

// resetFirst forgets the first-request time and returns the requests and
// body bytes served so far.
func (d *demoAPI) resetFirst() (int, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.wait, d.t0 = true, time.Time{}
	return d.requests, d.bytes.Load()
}

func (d *demoAPI) since(requests int, bytes int64) (int, int64, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.requests - requests, d.bytes.Load() - bytes, d.t0
}

func (d *demoAPI) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.hs.Shutdown(ctx)
}

// sdkRun is one measured sync.
type sdkRun struct {
	Mode string // "sandboxed" or "native"
	treeStats
	ToFirst  time.Duration // process start → the API's first request
	Requests int
	Bytes    int64 // response body bytes the API wrote
	Users    int   // user resources in the c1z
	Res, Ent int
	Grants   int
	OtherCPU time.Duration
}

// sdkSize is the runs of one workspace size.
type sdkSize struct {
	Opts demoapi.Options
	Runs []sdkRun
}

func (s sdkSize) mode(mode string) []sdkRun {
	var out []sdkRun
	for _, r := range s.Runs {
		if r.Mode == mode {
			out = append(out, r)
		}
	}
	return out
}

// sdkResult is what the section reports.
type sdkResult struct {
	cfg                     sdkConfig
	moduleBytes, moduleGzip int
	cacheBytes              int64 // the compilation cache the module fills
	coldUsers               int
	cold                    []sdkRun // sandboxed, each with an empty compilation cache
	sizes                   []sdkSize
	load0, load1            string
	took                    time.Duration
}

// sdkBench is what the runs share.
type sdkBench struct {
	cli, module, native, dir string
	caFile                   string
	certs                    *demoapi.Certs
}

// runSDK runs the section: builds the guest and the native binary unless
// given, times cold starts with empty caches (the last one's cache is the
// warm one of the syncs), then per size alternates sandboxed and native
// syncs against two servers of the same seed, one reached under the
// demo's names through --connect-to, the other at loopback addresses.
func runSDK(cfg sdkConfig, cli, workDir string) (*sdkResult, error) {
	started := time.Now()
	res := &sdkResult{cfg: cfg, load0: loadavg(), coldUsers: demoapi.DefaultUsers}
	if err := becomeSubreaper(); err != nil {
		return nil, err
	}
	dir := filepath.Join(workDir, "sdk")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b := &sdkBench{module: cfg.module, native: cfg.native, dir: dir, caFile: filepath.Join(dir, "ca.pem")}
	var err error
	if b.cli, err = filepath.Abs(cli); err != nil {
		return nil, err
	}
	if _, err := os.Stat(b.cli); err != nil {
		return nil, fmt.Errorf("%w (run `make build` first)", err)
	}
	if err := b.build(); err != nil {
		return nil, err
	}
	wasm, err := os.ReadFile(b.module)
	if err != nil {
		return nil, err
	}
	res.moduleBytes, res.moduleGzip = len(wasm), gzipSize(wasm)
	if b.certs, err = demoapi.NewCerts(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(b.caFile, b.certs.CAPEM, 0o600); err != nil {
		return nil, err
	}

	cache, err := b.coldStarts(res, cfg.coldRuns)
	if err != nil {
		return nil, err
	}
	if res.cacheBytes, err = dirBytes(cache); err != nil {
		return nil, err
	}
	for _, users := range cfg.users {
		size, err := b.size(sdkSeed(users), cfg.runs, cache)
		if err != nil {
			return nil, err
		}
		res.sizes = append(res.sizes, size)
	}
	res.load1, res.took = loadavg(), time.Since(started)
	return res, nil
}

// becomeSubreaper makes this process inherit the descendants its children
// leave behind, so runTree can read their rusage: baton-sdk's runner
// serves the connector from a child of its own, which it does not always
// reap before exiting.
func becomeSubreaper() error {
	const prSetChildSubreaper = 36 // prctl(2)
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return fmt.Errorf("becoming a child subreaper (Linux only): %w", errno)
	}
	return nil
}

// build builds what was not given: the guest as `make` builds guests
// (stripped), the native binary as `go build` does.
func (b *sdkBench) build() error {
	if b.module == "" {
		b.module = filepath.Join(b.dir, "baton-demo.wasm")
		fmt.Fprintf(os.Stderr, "sdk: building %s\n", sdkGuestPkg)
		if err := wasmbuild.Build(".", sdkGuestPkg, b.module); err != nil {
			return fmt.Errorf("%w (run runbench from the checkout's root, or give -sdk-module)", err)
		}
	}
	if b.native == "" {
		b.native = filepath.Join(b.dir, "baton-demo")
		fmt.Fprintf(os.Stderr, "sdk: building %s\n", sdkNativePkg)
		if out, err := exec.Command("go", "build", "-o", b.native, sdkNativePkg).CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %v (run runbench from the checkout's root, or give -sdk-native)\n%s", sdkNativePkg, err, out)
		}
	}
	return nil
}

// coldStarts syncs a small API sandboxed, each run with a new, empty
// compilation cache, and returns the last run's cache for the syncs to
// start warm from (after one untimed run when there are no cold runs).
func (b *sdkBench) coldStarts(res *sdkResult, runs int) (string, error) {
	api, err := startDemoAPI(demoapi.Options{Seed: 19, Users: res.coldUsers}, b.certs)
	if err != nil {
		return "", err
	}
	defer api.close()
	var cache string
	for i := range max(runs, 1) {
		cache = filepath.Join(b.dir, fmt.Sprintf("cache-%d", i))
		r, err := b.run("sandboxed", api, cache, res.coldUsers)
		if err != nil {
			return "", err
		}
		if runs > 0 {
			res.cold = append(res.cold, r)
			fmt.Fprintf(os.Stderr, "sdk: cold start %d/%d: first request %s, exit %s\n", i+1, runs, ms(r.ToFirst), ms(r.Wall))
		}
	}
	return cache, nil
}

// dirBytes is the size of the files under dir.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	return n, err
}

// size runs both modes runs times each, alternating which goes first so
// that a drift in the machine's load falls on both.
func (b *sdkBench) size(opts demoapi.Options, runs int, cache string) (sdkSize, error) {
	out := sdkSize{Opts: opts}
	sb, err := startDemoAPI(opts, b.certs)
	if err != nil {
		return out, err
	}
	defer sb.close()
	nativeOpts := opts
	nativeOpts.APIHost, nativeOpts.AuthHost = "127.0.0.1", "localhost"
	nat, err := startDemoAPI(nativeOpts, b.certs)
	if err != nil {
		return out, err
	}
	defer nat.close()
	order := []string{"sandboxed", "native"}
	for i := range runs {
		for _, mode := range order {
			api := sb
			if mode == "native" {
				api = nat
			}
			r, err := b.run(mode, api, cache, opts.Users)
			if err != nil {
				return out, err
			}
			out.Runs = append(out.Runs, r)
			fmt.Fprintf(os.Stderr, "sdk: %d users, %s %d/%d: wall=%.1fs cpu=%.1fs rss=%.0fMiB first=%s requests=%d grants=%d other-cpu=%.1fs\n",
				opts.Users, mode, i+1, runs, r.Wall.Seconds(), r.CPU().Seconds(), mib(r.PeakKiB*1024), ms(r.ToFirst), r.Requests, r.Grants, r.OtherCPU.Seconds())
		}
		slices.Reverse(order)
	}
	// The same connector against the same data: both modes must write
	// the same c1z, in every run.
	first := out.Runs[0]
	for _, r := range out.Runs {
		if r.Users != opts.Users || r.Res != first.Res || r.Ent != first.Ent || r.Grants != first.Grants {
			return out, fmt.Errorf("sdk, %d users: a %s sync wrote %d users, %d resources, %d entitlements and %d grants, a %s sync %d, %d and %d of %d users; the syncs differ",
				opts.Users, r.Mode, r.Users, r.Res, r.Ent, r.Grants, first.Mode, first.Res, first.Ent, first.Grants, opts.Users)
		}
	}
	return out, nil
}

// run syncs api once in mode and checks the c1z.
func (b *sdkBench) run(mode string, api *demoAPI, cache string, users int) (sdkRun, error) {
	dir, err := os.MkdirTemp(b.dir, mode+"-")
	if err != nil {
		return sdkRun{}, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "sync.c1z")
	creds := []string{"--demo-client-id", demoapi.DefaultClientID, "--demo-client-secret", demoapi.DefaultClientSecret,
		"--api-key", demoapi.DefaultAPIKey, "--log-level", "warn", "-f", file}
	var cmd *exec.Cmd
	env := append(os.Environ(), "TMPDIR="+dir)
	switch mode {
	case "sandboxed":
		args := []string{"sync", "--module", b.module, "--cache-dir", cache, "--ca-file", b.caFile}
		for _, host := range []string{demoapi.DefaultAPIHost, demoapi.DefaultAuthHost} {
			args = append(args, "--allow-origin", "https://"+host, "--connect-to", host+":443:127.0.0.1:"+api.port)
		}
		cmd = exec.Command(b.cli, append(args, creds...)...)
	case "native":
		cmd = exec.Command(b.native, append([]string{"--base-url", "https://127.0.0.1:" + api.port,
			"--token-url", "https://localhost:" + api.port + "/oauth/token"}, creds...)...)
		env = append(env, "SSL_CERT_FILE="+b.caFile)
	}
	cmd.Dir, cmd.Env = dir, env

	req0, bytes0 := api.resetFirst()
	cpu0 := cpuSnapshot()
	var start time.Time
	ts, err := runTree(cmd, func(t time.Time) { start = t })
	if err != nil {
		return sdkRun{}, fmt.Errorf("sdk %s sync of %d users: %w", mode, users, err)
	}
	cpu1 := cpuSnapshot()
	r := sdkRun{Mode: mode, treeStats: ts}
	var first time.Time
	r.Requests, r.Bytes, first = api.since(req0, bytes0)
	if first.IsZero() {
		return sdkRun{}, fmt.Errorf("sdk %s sync of %d users exited without a request to the API", mode, users)
	}
	r.ToFirst = first.Sub(start)
	r.OtherCPU = max(0, cpu1.busy-cpu0.busy-(cpu1.self-cpu0.self)-r.CPU())

	sum, err := inspect.Summarize(context.Background(), file, dir)
	if err != nil {
		return sdkRun{}, fmt.Errorf("sdk %s sync of %d users: %w", mode, users, err)
	}
	r.Res, r.Ent, r.Grants = sum.Resources, sum.Entitlements, sum.Grants
	for _, c := range sum.Types {
		if c.ResourceType == "user" {
			r.Users = c.Resources
		}
	}
	if r.Users != users || r.Grants == 0 {
		return sdkRun{}, fmt.Errorf("sdk %s sync: the c1z holds %d users and %d grants of an API with %d users; the sync is incomplete", mode, r.Users, r.Grants, users)
	}
	return r, nil
}

// treeStats is what the parent measures about a child and the processes
// it starts.
type treeStats struct {
	Wall      time.Duration // start → the child's exit
	User, Sys time.Duration // the child's and every descendant's
	// PeakKiB is the sum of the processes' VmHWM, polled: an upper bound
	// of their peak together.
	PeakKiB int64
	Procs   int
}

func (t treeStats) CPU() time.Duration { return t.User + t.Sys }

// runTree runs cmd to completion, polling /proc every 50 ms for its
// descendants and for every process's VmHWM (the child's rusage maxrss
// would include this process's peak, see peakRSSKiB). CPU is the child's
// rusage, which holds the descendants it reaped, plus the rusage of those
// it left behind, which this process inherits and reaps: the caller must
// have called becomeSubreaper, and must run no other child meanwhile. A
// failed child is an error with the tail of its stderr.
func runTree(cmd *exec.Cmd, onStart func(time.Time)) (treeStats, error) {
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = nil, &stderr
	start := time.Now()
	onStart(start)
	if err := cmd.Start(); err != nil {
		return treeStats{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	root := cmd.Process.Pid
	procs := map[int]bool{root: true} // every process seen
	hwm := map[int]int64{}            // VmHWM last read, of those read in two polls
	reads := map[int]int{}
	// read reads the VmHWM of pids. A child between vfork and execve (Go
	// starts processes so, and starts one that never execs to probe for
	// pidfd) shares its parent's memory and reads as its parent does, for
	// microseconds: a process counts once read in two polls (or read after
	// its parent exited, so past its execve), with the last value read,
	// since VmHWM only grows until an execve starts it afresh.
	read := func(pids []int, final bool) {
		for _, pid := range pids {
			if h, _, ok := procMem(pid); ok { // a reaped pid reads nothing: keep the last value
				if reads[pid]++; reads[pid] >= 2 || final {
					hwm[pid] = h
				}
			}
		}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var err error
	for polling := true; polling; {
		for pid := range procs {
			for _, c := range childPIDs(pid) {
				procs[c] = true
			}
		}
		read(slices.Collect(maps.Keys(procs)), false)
		select {
		case err = <-done:
			polling = false
		case <-tick.C:
		}
	}
	ts := treeStats{Wall: time.Since(start)}
	// Descendants the poll missed, whose parents exited, are now this
	// process's children (becomeSubreaper); it runs no other child now.
	var orphans []int
	for _, c := range childPIDs(os.Getpid()) {
		if !procs[c] {
			procs[c] = true
			orphans = append(orphans, c)
		}
	}
	read(orphans, true)
	ts.Procs = len(hwm)
	for _, h := range hwm {
		ts.PeakKiB += h
	}
	var errs []error
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, tail(stderr.String(), 4000)))
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	ts.User, ts.Sys = time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
	for pid := range procs {
		if pid == root {
			continue
		}
		ru, err := reapOrphan(pid)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ts.User += time.Duration(ru.Utime.Nano())
		ts.Sys += time.Duration(ru.Stime.Nano())
	}
	return ts, errors.Join(errs...)
}

// childPIDs lists the children of pid, from each of its threads.
func childPIDs(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			var c int
			if _, err := fmt.Sscan(s, &c); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// reapOrphan waits for a descendant that its parent left behind, now this
// process's child, and returns its rusage; one its parent reaped (ECHILD)
// counts nothing here, being in its parent's rusage. One still running a
// while after its parent exited is killed: the runner forgot it.
func reapOrphan(pid int) (syscall.Rusage, error) {
	type result struct {
		ru  syscall.Rusage
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		_, err := syscall.Wait4(pid, &ws, 0, &ru)
		ch <- result{ru, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		r = <-ch
		if r.err == nil {
			r.err = fmt.Errorf("process %d outlived its parent by 30 s and was killed", pid)
		}
	}
	if errors.Is(r.err, syscall.ECHILD) {
		return syscall.Rusage{}, nil
	}
	return r.ru, r.err
}

// medianOf is the median of f over runs.
func medianOf(runs []sdkRun, f func(sdkRun) time.Duration) time.Duration {
	d := make([]time.Duration, len(runs))
	for i, r := range runs {
		d[i] = f(r)
	}
	slices.Sort(d)
	return median(d)
}

func medianInt(runs []sdkRun, f func(sdkRun) int64) int64 {
	v := make([]int64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func wall(r sdkRun) time.Duration    { return r.Wall }
func cpu(r sdkRun) time.Duration     { return r.CPU() }
func toFirst(r sdkRun) time.Duration { return r.ToFirst }
func peak(r sdkRun) int64            { return r.PeakKiB }

// cpuRatio is the median sandboxed CPU over the median native CPU.
func (s sdkSize) cpuRatio() float64 {
	return medianOf(s.mode("sandboxed"), cpu).Seconds() / medianOf(s.mode("native"), cpu).Seconds()
}

func (r *sdkResult) write(p func(string, ...any)) {
	p("## baton-sdk guests")
	p("")
	p("The demo connector (`examples/baton-demo`, written only against baton-sdk and")
	p("`uhttp`) synced against the demo API (`demoapi`), which this process serves over")
	p("TLS on 127.0.0.1, with a seed of N users, N/250 groups (at least %d) and N/1000", demoapi.DefaultGroups)
	p("roles (at least %d). **Sandboxed**: `baton-runner sync --module baton-demo.wasm", demoapi.DefaultRoles)
	p("--allow-origin https://api.demo.test --allow-origin https://auth.demo.test")
	p("--connect-to api.demo.test:443:127.0.0.1:PORT --connect-to auth.demo.test:443:127.0.0.1:PORT")
	p("--ca-file ca.pem --cache-dir D …`, the guest's uhttp doing TLS to the in-guest proxy,")
	p("which hands each request to the host's egress (docs/ABI.md, \"baton-sdk guests\").")
	p("**Native**: the connector's own binary (`cmd/baton-demo`, baton-sdk's runner, which")
	p("serves the connector from a subprocess) with `--base-url https://127.0.0.1:PORT")
	p("--token-url https://localhost:PORT/oauth/token` and the CA as `SSL_CERT_FILE`; a second")
	p("server of the same seed answers for those names. Both log at warn, with their")
	p("defaults otherwise. Per size, %d runs of each, alternating which goes first;", r.cfg.runs)
	p("sandboxed runs start from a warm compilation cache. CPU = user + sys of the process and its descendants (the runner's connector")
	p("subprocess included). Peak RSS = the sum of the processes' `VmHWM`, polled every")
	p("50 ms. Every c1z is loaded and checked to hold every user, and the runs of a size to")
	p("hold the same resources, entitlements and grants. First request = process start to")
	p("the API's first request (the token). The guests' linear memory is inside the")
	p("sandboxed RSS; `baton-runner sync` does not report it apart (serve's")
	p("`baton_runner_guest_memory_bytes` does). Load average (1/5/15 min): before %s, after %s;", r.load0, r.load1)
	p("the section took %s.", r.took.Round(time.Second))
	p("")
	p("| mode | users | groups | roles | run | wall (s) | CPU user (s) | CPU sys (s) | CPU total (s) | peak RSS (MiB) | processes | first request (ms) | API requests | response MiB | resources | grants | other CPU (s) |")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range r.sizes {
		n := map[string]int{}
		for _, x := range s.Runs {
			n[x.Mode]++
			p("| %s | %d | %d | %d | %d | %s | %s | %s | %s | %.0f | %d | %.0f | %d | %.2f | %d | %d | %s |",
				x.Mode, s.Opts.Users, s.Opts.Groups, s.Opts.Roles, n[x.Mode], secs(x.Wall), secs(x.User), secs(x.Sys), secs(x.CPU()),
				mib(x.PeakKiB*1024), x.Procs, float64(x.ToFirst)/float64(time.Millisecond), x.Requests, mib(x.Bytes), x.Res, x.Grants, secs(x.OtherCPU))
		}
	}
	p("")
	p("### Sandboxed vs native (medians)")
	p("")
	p("Target: sandboxed CPU ≤ %.0f × native (median of the runs), at every size.", targetSDKCPURatio)
	p("Marginal CPU ratio: what the users a size adds to the one before cost, sandboxed")
	p("over native, (S₂ − S₁) / (N₂ − N₁) of the median CPUs: the ratio without the cost")
	p("that does not grow with the sync (starting the process, loading the module from")
	p("the cache, starting the guest instances).")
	p("")
	p("| users | native wall (s) | sandboxed wall (s) | wall ratio | native CPU (s) | sandboxed CPU (s) | CPU ratio | marginal CPU ratio | native peak RSS (MiB) | sandboxed peak RSS (MiB) | target | result |")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
	for i, s := range r.sizes {
		nat, sb := s.mode("native"), s.mode("sandboxed")
		nw, sw := medianOf(nat, wall), medianOf(sb, wall)
		ratio, marginal := s.cpuRatio(), "—"
		if i > 0 {
			prev := r.sizes[i-1]
			dn := medianOf(nat, cpu) - medianOf(prev.mode("native"), cpu)
			ds := medianOf(sb, cpu) - medianOf(prev.mode("sandboxed"), cpu)
			if dn != 0 {
				marginal = fmt.Sprintf("%.2f", ds.Seconds()/dn.Seconds())
			}
		}
		p("| %d | %s | %s | %.2f | %s | %s | **%.2f** | %s | %.0f | %.0f | CPU ≤ %.0f | %s |", s.Opts.Users, secs(nw), secs(sw), sw.Seconds()/nw.Seconds(),
			secs(medianOf(nat, cpu)), secs(medianOf(sb, cpu)), ratio, marginal,
			mib(medianInt(nat, peak)*1024), mib(medianInt(sb, peak)*1024), targetSDKCPURatio, passMiss(ratio <= targetSDKCPURatio))
	}
	p("")
	r.writeStart(p)
	r.writeProxy(p)
	p("### Guest module")
	p("")
	p("`%s`, built as `make` builds guests (`-trimpath -ldflags=\"-s -w\"`, stripped).", sdkGuestPkg)
	p("Compilation cache: what the module puts in `--cache-dir` (its instrumented copy")
	p("and wazero's compiled code), which a warm start reads back.")
	p("")
	p("| module | bytes | MiB | gzip bytes | gzip MiB | compilation cache MiB |")
	p("|---|---:|---:|---:|---:|---:|")
	p("| baton-demo.wasm | %d | %.2f | %d | %.2f | %.0f |", r.moduleBytes, mib(int64(r.moduleBytes)), r.moduleGzip, mib(int64(r.moduleGzip)), mib(r.cacheBytes))
	p("")
}

// writeStart is the start-up table: cold (compiling into an empty cache)
// and warm sandboxed starts, and the native binary's.
func (r *sdkResult) writeStart(p func(string, ...any)) {
	p("### Start: process start → first API request")
	p("")
	p("Empty cache: `baton-runner sync` with a new `--cache-dir` per run, so it compiles")
	p("the guest, against a %d-user API (to exit = its whole sync). Warm cache and", r.coldUsers)
	p("native: the sync runs above.")
	p("")
	p("| start | runs | first request, median | min | max | to exit, median |")
	p("|---|---:|---:|---:|---:|---:|")
	row := func(label string, runs []sdkRun, exit bool) {
		if len(runs) == 0 {
			return
		}
		firsts := make([]time.Duration, len(runs))
		for i, x := range runs {
			firsts[i] = x.ToFirst
		}
		slices.Sort(firsts)
		toExit := "—"
		if exit {
			toExit = ms(medianOf(runs, wall))
		}
		p("| %s | %d | %s | %s | %s | %s |", label, len(runs), ms(median(firsts)), ms(firsts[0]), ms(firsts[len(firsts)-1]), toExit)
	}
	var warm, nat []sdkRun
	for _, s := range r.sizes {
		warm, nat = append(warm, s.mode("sandboxed")...), append(nat, s.mode("native")...)
	}
	row("sandboxed, empty cache (cold compile)", r.cold, true)
	row("sandboxed, warm cache", warm, false)
	row("native", nat, false)
	p("")
}

// writeProxy is the cost of the in-guest proxy per API request.
func (r *sdkResult) writeProxy(p func(string, ...any)) {
	p("### Per API request")
	p("")
	p("Extra CPU per request = (median sandboxed CPU − median native CPU) / sandboxed")
	p("requests: everything the sandbox adds, divided over the requests, so an upper")
	p("bound of the proxy's own cost (it includes running the connector and baton-sdk's")
	p("server side as Wasm and the transport frames). Bytes copied = response body bytes")
	p("× %d, the copies each body byte takes in the sandbox beyond the native", sdkCopies)
	p("connector's own (which reads it from its TLS socket into uhttp's buffer; the host's")
	p("egress does that in the sandbox): (1) the host frames it into the batch reply,")
	p("(2) writes the reply into guest memory, (3) the guest copies it out (8 bytes per")
	p("kernel call), (4) the proxy's `http.Response.Write` buffers it, (5) the proxy's TLS")
	p("encrypts it, (6) Go's in-process network (wasip1 `net_fake`) queues it, (7) the")
	p("connector's TLS reads it from there, (8) decrypts it, (9) `net/http` buffers it")
	p("before uhttp reads it. (3)–(9) run as Wasm, (5) and (8) are cipher passes.")
	p("")
	p("| users | requests (sandboxed) | response bytes / request | extra CPU / request (ms) | bytes copied / request | MiB copied / sync |")
	p("|---:|---:|---:|---:|---:|---:|")
	for _, s := range r.sizes {
		sb := s.mode("sandboxed")
		req := medianInt(sb, func(x sdkRun) int64 { return int64(x.Requests) })
		body := medianInt(sb, func(x sdkRun) int64 { return x.Bytes })
		extra := medianOf(sb, cpu) - medianOf(s.mode("native"), cpu)
		p("| %d | %d | %d | %.1f | %d | %.1f |", s.Opts.Users, req, body/max(req, 1),
			float64(extra)/float64(time.Millisecond)/float64(max(req, 1)), body/max(req, 1)*sdkCopies, mib(body*sdkCopies))
	}
	p("")
}

// targetRows are the section's lines of the Targets table.
func (r *sdkResult) targetRows(p func(string, ...any)) {
	for _, s := range r.sizes {
		ratio := s.cpuRatio()
		p("| baton-sdk guest: sandboxed/native CPU ≤ %.0f, %d users (medians) | %.2f | %s |", targetSDKCPURatio, s.Opts.Users, ratio, passMiss(ratio <= targetSDKCPURatio))
	}
}

// parseSDKUsers parses -sdk-users; empty turns the section off.
func parseSDKUsers(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		var n int
		if _, err := fmt.Sscan(f, &n); err != nil || n <= 0 {
			return nil, fmt.Errorf("-sdk-users: %q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}
