package securitytest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/host/tenant"
)

// The containment bounds this test holds every attack to; SECURITY.md
// quotes them. The margins are for a loaded 2-core CI machine, not
// performance targets: an attack that is not contained overruns them by
// orders of magnitude (minutes, GiB, hundreds of MiB of logs).
const (
	overTimeCallTimeout = 10 * time.Second
	// stopMargin: how long after its limit fires a sync may take to end
	// (closing the instance, baton-sdk's clean-up).
	stopMargin = 10 * time.Second
	// rssBound: the host process's peak resident memory during any attack,
	// the healthy neighbour's back-to-back syncs (most of it: each holds a
	// c1z store) and the test itself included. Before the output was
	// bounded, the amplification attack alone took 2.2–2.5 GiB.
	rssBound = 1536 << 20
	// logSlack: what the host may log about an attack beyond the guest's
	// log budget (its own warnings and the sync's failure).
	logSlack = 64 << 10
	// neighbourBound: the longest a healthy 30-user sync may take while
	// attacks run beside it (alone it takes well under a second).
	neighbourBound = 30 * time.Second
	// neighbourInterval is the healthy tenant's sync schedule.
	neighbourInterval = time.Second
)

// overTimeModule is the hostile guest with the default sandbox limits
// except the call timeout, so what is measured is what a default
// deployment pays.
func overTimeModule(t *testing.T) *sandbox.Module {
	return moduleKeyed(t, "overtime", hostilePkg, func(c *sandbox.Config) { c.CallTimeout = overTimeCallTimeout })
}

// countingWriter counts the bytes the host's logger writes.
type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }
func (w *countingWriter) Sync() error                 { return nil }

// jsonLogger logs as the daemon does in production (JSON, info level) into w.
func jsonLogger(w *countingWriter) *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, w, zapcore.InfoLevel), zap.AddStacktrace(zapcore.ErrorLevel))
}

// rssSampler records the process's peak resident set while it runs.
type rssSampler struct {
	peak atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func sampleRSS() *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s.peak.Store(rss())
	go func() {
		defer close(s.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				if r := rss(); r > s.peak.Load() {
					s.peak.Store(r)
				}
			}
		}
	}()
	return s
}

// end stops the sampler and returns the peak it saw.
func (s *rssSampler) end() int64 {
	close(s.stop)
	<-s.done
	return s.peak.Load()
}

type overTimeAttack struct {
	name     string
	settings map[string]string
	limits   synclimits.Limits
	// wantErr is a fragment the sync's error must contain ("" : the sync
	// may succeed).
	wantErr string
	// limit is how long the sync may take before it is stopped (plus
	// stopMargin).
	limit time.Duration
	// maxCalls bounds the guest calls the attack gets (retries included).
	maxCalls uint64
}

func overTimeAttacks() []overTimeAttack {
	tight := synclimits.Limits{MaxPages: 300, MaxDepth: 4}
	return []overTimeAttack{
		{name: "sleep", settings: map[string]string{"sleep": "10m"}, wantErr: "time limit", limit: overTimeCallTimeout, maxCalls: 1},
		{name: "huge-error-set", settings: map[string]string{"bytes": strconv.Itoa(24 << 20)}, wantErr: "more bytes cut", limit: overTimeCallTimeout, maxCalls: 1},
		// Past the output cap the envelope is refused unread; below it its
		// message is decoded and clipped, and only a retryable code is
		// retried, up to MaxCallAttempts.
		{name: "huge-error-envelope", settings: map[string]string{"bytes": strconv.Itoa(15 << 20)}, wantErr: "output", limit: overTimeCallTimeout, maxCalls: 1},
		{name: "huge-error-envelope", settings: map[string]string{"bytes": strconv.Itoa(6 << 20), "code": "invalid_argument"}, wantErr: "more bytes cut", limit: overTimeCallTimeout, maxCalls: 1},
		{name: "huge-error-envelope", settings: map[string]string{"bytes": strconv.Itoa(6 << 20), "code": "unavailable"}, wantErr: "more bytes cut", limit: 3 * overTimeCallTimeout, maxCalls: 3},
		{name: "huge-trap", settings: map[string]string{"bytes": strconv.Itoa(8 << 20)}, wantErr: "more bytes cut", limit: overTimeCallTimeout, maxCalls: 1},
		{name: "amplify", settings: map[string]string{"bytes": strconv.Itoa(16 << 20)}, wantErr: "output", limit: overTimeCallTimeout, maxCalls: 1},
		{name: "log-flood-short", settings: map[string]string{"lines": "200000"}, limit: overTimeCallTimeout},
		{name: "proc-exit", wantErr: "exit", limit: overTimeCallTimeout, maxCalls: 1},
		{name: "session-flood", settings: map[string]string{"entries": "1500000"}, limit: overTimeCallTimeout},
		{name: "endless-pages", limits: tight, wantErr: "max_pages", limit: time.Minute},
		// The default max_empty_pages, below tight's max_pages.
		{name: "empty-pages", limits: tight, wantErr: "max_empty_pages", limit: time.Minute},
		{name: "endless-children", limits: tight, wantErr: "max_depth", limit: time.Minute},
	}
}

// TestContainmentOverTime runs each attack on a whole sync through the real
// host (tenant, baton-sdk syncer, c1z) while a healthy Segment tenant
// syncs beside it, and holds each to the containment promise: stopped
// within its limit plus stopMargin, the host's memory growth within
// rssBound, the host's log bytes within the guest's log budget plus
// logSlack, the previous c1z intact, the neighbour on time.
func TestContainmentOverTime(t *testing.T) {
	if testing.Short() {
		t.Skip("runs whole syncs of every attack")
	}
	if raceEnabled {
		// Its bounds are the product's: under the race detector the guest's
		// host calls run several times slower and memory use multiplies,
		// so the text attacks overrun their call timeout instead of the
		// paths under test. The same paths run under -race in host/sandbox,
		// internal/connector and host/tenant.
		t.Skip("containment bounds are measured on the product's build, not under -race")
	}
	m := overTimeModule(t)
	var worst worstCase
	defer func() { t.Logf("worst over all attacks: %s", worst.String()) }()
	stop := make(chan struct{})
	var neighbour neighbourLog
	results := healthyTimed(t, stop, &neighbour, neighbourInterval)

	for _, a := range overTimeAttacks() {
		name := a.name
		if c := a.settings["code"]; c != "" {
			name += "/" + c
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "hostile.c1z")
			logs := &countingWriter{}
			settings := map[string]string{"attack": a.name}
			for k, v := range a.settings {
				settings[k] = v
			}
			newTenant := func(settings map[string]string) *tenant.Tenant {
				tn, err := tenant.New(m, tenant.Config{Name: "hostile", Settings: settings, Instances: 1,
					Limits: a.limits, MaxCallAttempts: 3, Logger: jsonLogger(logs),
					Egress: egress.Config{BaseURL: "http://127.0.0.1:9", Token: secret.New(hostileToken)}})
				if err != nil {
					t.Fatal(err)
				}
				return tn
			}
			// A good c1z from an earlier, benign sync of the same tenant.
			good := newTenant(map[string]string{"attack": "files"})
			if err := good.Sync(context.Background(), localsync.Options{Path: path, TmpDir: dir}); err != nil {
				t.Fatalf("benign sync: %v", err)
			}
			good.Close(context.Background())
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			logs.n.Store(0)

			tn := newTenant(settings)
			defer tn.Close(context.Background())
			runtime.GC()
			debug.FreeOSMemory()
			mem := sampleRSS()
			cpu0 := cpuTime()
			start := time.Now()
			err = tn.Sync(context.Background(), localsync.Options{Path: path, TmpDir: dir})
			took := time.Since(start)
			cpu := cpuTime() - cpu0
			peak := mem.end()
			worst.note(name, took, cpu, peak, logs.n.Load())
			stats := tn.Stats()
			t.Logf("%s: took %s, process CPU %s, host peak RSS %d MiB, host logs %d bytes, stats %+v, err %.300v",
				name, took.Round(time.Millisecond), cpu.Round(time.Millisecond), peak>>20, logs.n.Load(), stats, err)

			if a.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), a.wantErr) {
					t.Errorf("sync error = %.500v, want one containing %q", err, a.wantErr)
				}
			}
			if err != nil && len(err.Error()) > 4*abi.MaxTextBytes {
				t.Errorf("sync error is %d bytes: guest text reached it unclipped", len(err.Error()))
			}
			if took > a.limit+stopMargin {
				t.Errorf("the sync ran %s, past its limit %s + %s", took, a.limit, stopMargin)
			}
			if a.maxCalls > 0 && stats.Calls > a.maxCalls+1 { // +1: the listing of resource types' first page
				t.Errorf("%d guest calls, want at most %d: a guest-caused failure was retried", stats.Calls, a.maxCalls)
			}
			if peak > rssBound {
				t.Errorf("host RSS peaked at %d MiB during the attack, bound %d MiB", peak>>20, rssBound>>20)
			}
			if n := logs.n.Load(); n > sandbox.DefaultMaxLogBytes+logSlack {
				t.Errorf("host wrote %d log bytes for the attack, budget %d + %d", n, sandbox.DefaultMaxLogBytes, logSlack)
			}
			if err != nil {
				after, rerr := os.ReadFile(path)
				if rerr != nil || !bytes.Equal(after, before) {
					t.Errorf("the previous c1z changed after a failed sync (read error %v)", rerr)
				}
			}
		})
	}
	close(stop)
	n := 0
	for err := range results {
		n++
		if err != nil {
			t.Errorf("healthy tenant's sync %d failed next to the attacks: %v", n, err)
		}
	}
	if n < 2 {
		t.Errorf("the healthy tenant synced %d times while the attacks ran", n)
	}
	if worst := neighbour.worst(); worst > neighbourBound {
		t.Errorf("the healthy tenant's slowest sync took %s next to the attacks, bound %s", worst, neighbourBound)
	}
	t.Logf("healthy neighbour: %d syncs, slowest %s", n, neighbour.worst())
}

// neighbourLog records how long each of the healthy tenant's syncs took.
type neighbourLog struct {
	mu    sync.Mutex
	takes []time.Duration
}

func (l *neighbourLog) add(d time.Duration) { l.mu.Lock(); l.takes = append(l.takes, d); l.mu.Unlock() }

func (l *neighbourLog) worst() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var w time.Duration
	for _, d := range l.takes {
		w = max(w, d)
	}
	return w
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// worstCase keeps the largest cost any attack made the host pay, for
// SECURITY.md.
type worstCase struct {
	took, cpu     time.Duration
	rss, logs     int64
	tookBy, rssBy string
}

func (w *worstCase) note(name string, took, cpu time.Duration, rss, logs int64) {
	if took > w.took {
		w.took, w.tookBy = took, name
	}
	w.cpu = max(w.cpu, cpu)
	if rss > w.rss {
		w.rss, w.rssBy = rss, name
	}
	w.logs = max(w.logs, logs)
}

func (w *worstCase) String() string {
	return fmt.Sprintf("longest sync %s (%s), most process CPU %s, peak RSS %d MiB (%s), most host log bytes %d",
		w.took.Round(time.Millisecond), w.tookBy, w.cpu.Round(time.Millisecond), w.rss>>20, w.rssBy, w.logs)
}
