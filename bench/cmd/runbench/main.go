// Command runbench measures what the WebAssembly sandbox costs a Segment
// sync, against the bundled simulator: wall time, CPU and peak RSS of a
// native and a sandboxed sync per workspace size and API latency, cold
// start of the sandboxed CLI with an empty and a warm compilation cache,
// and the guest module's size; and the same of a connector written with
// baton-sdk, the demo, sandboxed against its own binary (sdk.go). It writes a Markdown report (BENCHMARKS.md
// via `make bench`).
//
// Every sync runs in a child process (this binary re-executed as
// `runbench worker …`), so CPU time and peak RSS are those of one run and
// not of the simulator, which the parent serves.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/baton-runner/baton-runner/host/sandbox"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("runbench: ")
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		if err := runWorker(os.Args[2:]); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// config is the parsed command line.
type config struct {
	users      []int
	latencies  []time.Duration
	modes      []string
	coldRuns   int
	out        string
	wasm, cli  string
	profileDir string
	// readLimit adds a sandboxed sync of the first workspace size under
	// this many read requests per minute (0: none).
	readLimit int
	// secondLimit adds a sandboxed sync of secondUsers users under this
	// many read requests per one-second window (0: none), where the
	// one-second resolution of the rate-limit headers matters.
	secondLimit, secondUsers int
	// memoryRuns repeats each size's sync this many times per mode at
	// memoryLatency for the peak-RSS rows (0: none).
	memoryRuns    int
	memoryLatency time.Duration
	// -multitenant: many tenants in one serve process (scenarios), or,
	// with compare, one `sync --all` process against one per tenant.
	multitenant bool
	compare     bool
	tenants     int
	scenarios   []serveScenario
	budgetMiB   int
	maxSyncs    int
	serveLogs   string
	// only runs one part: "segment" or "sdk" (empty: both).
	only string
	sdk  sdkConfig
}

// segment and sdk say whether the Segment part and the baton-sdk guests
// section run.
func (c config) segment() bool { return c.only != "sdk" }
func (c config) sdkOn() bool   { return c.only != "segment" && len(c.sdk.users) > 0 }

func parseFlags() (config, error) {
	users := flag.String("users", "1000,10000", "comma-separated workspace sizes (users)")
	latency := flag.String("latency", "0ms,20ms,100ms", "comma-separated simulated API latencies")
	modes := flag.String("modes", "native,sandboxed", "comma-separated modes: native, sandboxed")
	coldRuns := flag.Int("coldstart-runs", 5, "CLI cold-start runs per cache state (0 skips cold start)")
	out := flag.String("out", "", "write the Markdown report to this file (default: stdout)")
	quick := flag.Bool("quick", false, "smoke run: 1000 users only, latencies 0ms and 20ms")
	readLimit := flag.Int("read-limit", 600, "also sync the first -users size sandboxed under this many read requests per minute (`sim --read-limit`; 0 skips)")
	secondLimit := flag.Int("read-limit-per-second", 20, "also sync -read-limit-per-second-users users sandboxed under this many read requests per one-second window (segmentsim's RateWindow; 0 skips)")
	secondUsers := flag.Int("read-limit-per-second-users", 500, "workspace size (users) of the -read-limit-per-second sync")
	memoryRuns := flag.Int("memory-runs", 5, "peak-RSS rows: syncs of each mode per -users size, modes in turn (0 skips)")
	memoryLatency := flag.Duration("memory-latency", 20*time.Millisecond, "simulated API latency of the peak-RSS runs")
	wasm := flag.String("wasm", "bin/segment.wasm", "guest module (built by make build)")
	cli := flag.String("cli", "bin/baton-runner", "baton-runner binary for the cold-start runs (built by make build)")
	profileDir := flag.String("cpuprofile-dir", "", "have each worker write a CPU profile <mode>-<users>-<latency>.pprof here")
	multitenant := flag.Bool("multitenant", false, "run the multi-tenant benchmark instead: the -scenarios in one `baton-runner serve` each (-latency defaults to 20ms)")
	scenarios := flag.String("scenarios", defaultScenarios, "with -multitenant: comma-separated TENANTSxUSERS@INTERVAL, each run in one serve process until every tenant synced twice")
	interval := flag.Duration("interval", 0, "with -multitenant: the sync interval of the single scenario -tenants × -users (required with them)")
	budget := flag.Int("budget-mib", defaultBudgetMiB, "with -multitenant: [runtime] process_memory_mib of serve")
	maxSyncs := flag.Int("max-concurrent-syncs", defaultMaxSyncs, "with -multitenant: [runtime] max_concurrent_syncs of serve (0: serve's default)")
	serveLogs := flag.String("serve-logs", "", "with -multitenant: keep serve's JSON logs in this directory (serve-<tenants>x<users>.log)")
	compare := flag.Bool("compare", false, "with -multitenant: the earlier comparison instead, one `sync --config --all` process vs one process per tenant (-tenants, -users default 1000, -latency default 0ms)")
	tenants := flag.Int("tenants", 50, "with -multitenant: number of tenants (workspaces); with -users and -interval, the one serve scenario to run")
	only := flag.String("only", "", "run only this part: segment (the Segment connector) or sdk (the baton-sdk guests section)")
	sdkUsers := flag.String("sdk-users", "1000,3000", "baton-sdk guests section: comma-separated demo API sizes (users; empty skips the section)")
	sdkRuns := flag.Int("sdk-runs", 3, "baton-sdk guests section: syncs of each mode per size")
	sdkCold := flag.Int("sdk-cold-runs", 2, "baton-sdk guests section: sandboxed starts with an empty compilation cache")
	sdkModule := flag.String("sdk-module", "", "baton-sdk guests section: the demo guest module (default: build examples/baton-demo/wasm)")
	sdkNative := flag.String("sdk-native", "", "baton-sdk guests section: the demo's native binary (default: build examples/baton-demo/cmd/baton-demo)")
	flag.Parse()

	c := config{coldRuns: *coldRuns, out: *out, wasm: *wasm, cli: *cli, profileDir: *profileDir, readLimit: *readLimit, secondLimit: *secondLimit, secondUsers: *secondUsers,
		memoryRuns: *memoryRuns, memoryLatency: *memoryLatency,
		multitenant: *multitenant, compare: *compare, tenants: *tenants, budgetMiB: *budget, maxSyncs: *maxSyncs, serveLogs: *serveLogs,
		only: *only, sdk: sdkConfig{runs: *sdkRuns, coldRuns: *sdkCold, module: *sdkModule, native: *sdkNative}}
	if c.only != "" && c.only != "segment" && c.only != "sdk" {
		return c, fmt.Errorf("-only: %q is neither segment nor sdk", c.only)
	}
	var err error
	if c.sdk.users, err = parseSDKUsers(*sdkUsers); err != nil {
		return c, err
	}
	if c.only == "sdk" && len(c.sdk.users) == 0 {
		return c, errors.New("-only sdk needs at least one -sdk-users size")
	}
	if c.sdk.runs < 1 || c.sdk.coldRuns < 0 {
		return c, fmt.Errorf("-sdk-runs %d, -sdk-cold-runs %d: want at least 1 run and no negative cold runs", c.sdk.runs, c.sdk.coldRuns)
	}
	if *quick {
		*users, *latency = "1000", "0ms,20ms"
	}
	if *multitenant {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["latency"] {
			*latency = map[bool]string{true: "0ms", false: "20ms"}[c.compare]
		}
		switch {
		case c.compare && !set["users"]:
			*users = "1000"
		case !c.compare && (set["tenants"] || set["users"]):
			if !set["tenants"] || !set["users"] || *interval == 0 || set["scenarios"] {
				return c, errors.New("-multitenant: give either -scenarios or all of -tenants, -users and -interval")
			}
			*scenarios = fmt.Sprintf("%dx%s@%s", *tenants, *users, *interval)
		}
		if len(splitList(*latency)) != 1 || c.compare && (*tenants < 1 || len(splitList(*users)) != 1) {
			return c, errors.New("-multitenant takes one -latency value, and with -compare -tenants ≥ 1 and one -users value")
		}
		if !c.compare {
			if c.scenarios, err = parseScenarios(*scenarios); err != nil {
				return c, err
			}
			if c.budgetMiB < 0 || c.maxSyncs < 0 {
				return c, fmt.Errorf("-budget-mib %d, -max-concurrent-syncs %d: want 0 or more", c.budgetMiB, c.maxSyncs)
			}
		}
	}
	if c.secondLimit > 0 && c.secondUsers <= 0 {
		return c, fmt.Errorf("-read-limit-per-second-users: %d is not a positive number", c.secondUsers)
	}
	for _, s := range splitList(*users) {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("-users: %q is not a positive number", s)
		}
		c.users = append(c.users, n)
	}
	for _, s := range splitList(*latency) {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return c, fmt.Errorf("-latency: %q is not a duration such as 20ms", s)
		}
		c.latencies = append(c.latencies, d)
	}
	for _, m := range splitList(*modes) {
		if m != "native" && m != "sandboxed" {
			return c, fmt.Errorf("-modes: %q is neither native nor sandboxed", m)
		}
		c.modes = append(c.modes, m)
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run() error {
	cfg, err := parseFlags()
	if err != nil {
		return err
	}
	if cfg.multitenant {
		return runMultitenant(cfg)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	workDir, err := os.MkdirTemp("", "runbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(workDir)
	if cfg.profileDir != "" {
		if cfg.profileDir, err = filepath.Abs(cfg.profileDir); err != nil {
			return err
		}
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return err
		}
	}
	env := &benchEnv{self: self, wasm: cfg.wasm, cacheDir: filepath.Join(workDir, "cache"), workDir: workDir, profileDir: cfg.profileDir}

	rep := &report{started: time.Now(), cfg: cfg}
	if cfg.segment() {
		if err := runSegment(cfg, env, rep); err != nil {
			return err
		}
	}
	if cfg.sdkOn() {
		if rep.sdk, err = runSDK(cfg.sdk, cfg.cli, workDir); err != nil {
			return err
		}
	}
	rep.finished = time.Now()

	return writeReport(cfg.out, func(w io.Writer, analysis string) error {
		rep.analysis = analysis
		return rep.write(w)
	})
}

// runSegment measures the Segment connector: the sync scenarios and the
// CLI's cold start.
func runSegment(cfg config, env *benchEnv, rep *report) error {
	wasm, err := os.ReadFile(cfg.wasm)
	if err != nil {
		return fmt.Errorf("%w (run `make build` first)", err)
	}
	rep.moduleBytes, rep.moduleGzip = len(wasm), gzipSize(wasm)
	// Sync scenarios measure steady state, so the compilation cache is
	// warmed here first; what an empty cache costs is the cold-start
	// section's business.
	if err := warmCache(wasm, env.cacheDir); err != nil {
		return err
	}

	var scenarios []scenario
	for _, users := range cfg.users {
		for _, lat := range cfg.latencies {
			for _, mode := range cfg.modes {
				scenarios = append(scenarios, scenario{Mode: mode, Users: users, Latency: lat})
			}
		}
	}
	if cfg.readLimit > 0 && slices.Contains(cfg.modes, "sandboxed") {
		scenarios = append(scenarios, scenario{Mode: "sandboxed", Users: cfg.users[0], ReadLimit: cfg.readLimit})
	}
	if cfg.secondLimit > 0 && slices.Contains(cfg.modes, "sandboxed") {
		scenarios = append(scenarios, scenario{Mode: "sandboxed", Users: cfg.secondUsers, ReadLimit: cfg.secondLimit, ReadWindow: time.Second})
	}
	for i, sc := range scenarios {
		r, err := env.runScenario(sc)
		if err != nil {
			return err
		}
		rep.syncs = append(rep.syncs, r)
		fmt.Fprintf(os.Stderr, "[%d/%d] %-28s wall=%6.1fs cpu=%6.1fs rss=%5.0fMiB requests=%d (429: %d) grants=%d other-cpu=%.1fs\n",
			i+1, len(scenarios), sc.name(), r.Wall.Seconds(),
			(r.User + r.Sys).Seconds(), mib(r.MaxRSSKiB*1024), r.Requests, r.Limited, r.Grants, r.OtherCPU.Seconds())
	}

	if cfg.memoryRuns > 0 {
		if rep.memory, err = env.runMemory(cfg.users, cfg.modes, cfg.memoryRuns, cfg.memoryLatency); err != nil {
			return err
		}
	}

	if cfg.coldRuns > 0 {
		for _, warm := range []bool{false, true} {
			runs, err := env.coldStart(cfg.cli, cfg.coldRuns, warm)
			if err != nil {
				return err
			}
			cs := summarizeCold(warm, runs)
			rep.cold = append(rep.cold, cs)
			fmt.Fprintf(os.Stderr, "cold start (%s cache, %d runs): first request median %s min %s; exit median %s\n",
				cs.label(), len(runs), ms(cs.FirstMedian), ms(cs.FirstMin), ms(cs.ExitMedian))
		}
	}
	return nil
}

// warmCache compiles the guest once so every sandboxed worker finds it in
// the persistent compilation cache.
func warmCache(wasm []byte, dir string) error {
	ctx := context.Background()
	m, err := sandbox.Compile(ctx, sandbox.Config{Wasm: wasm, CacheDir: dir})
	if err != nil {
		return fmt.Errorf("compiling the guest to warm the cache: %w", err)
	}
	return m.Close(ctx)
}

// writeReport has write write a report to path, or to stdout when path is
// empty, handing it the Analysis section kept from the report it replaces.
func writeReport(path string, write func(w io.Writer, analysis string) error) error {
	if path == "" {
		return write(os.Stdout, "")
	}
	analysis := keptAnalysis(path)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := write(f, analysis); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", path)
	return nil
}

// keptAnalysis returns the hand-written "## Analysis" section of the
// report at path, so that regenerating the numbers does not lose it; the
// engineer dates it and revises it against the new numbers.
func keptAnalysis(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	_, after, ok := strings.Cut(string(b), "\n## Analysis\n")
	if !ok || strings.HasPrefix(strings.TrimSpace(after), "(") {
		return ""
	}
	return strings.TrimSpace(after)
}
