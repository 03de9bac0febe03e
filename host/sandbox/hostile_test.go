package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/internal/testguests/handmade"
)

const hostilePkg = "internal/testguests/hostile"

// attack runs the hostile guest's attack with settings cfg and returns the
// raw output of the call.
func attack(ctx context.Context, t *testing.T, p *sandbox.Pool, cfg map[string]string) ([]byte, error) {
	t.Helper()
	in, err := json.Marshal(abi.ListResourcesRequest{Call: abi.Call{Config: cfg}, ResourceType: "thing"})
	if err != nil {
		t.Fatal(err)
	}
	return p.Call(ctx, abi.ExportListResources, in, memSession{})
}

// wakeMargin is how long a stopped guest may take past its deadline or its
// caller's cancellation: waking from the sleep, returning to wasm, meeting
// close-on-done's check, and the scheduling noise of a loaded 2-core
// machine under -race. Without the deadline-aware sleep the overrun is the
// whole sleep (30 s here, 10 min by default).
const wakeMargin = 3 * time.Second

// TestSleepEndsAtTheDeadline: a guest asleep in poll_oneoff is stopped at
// its call deadline, not when its sleep ends.
func TestSleepEndsAtTheDeadline(t *testing.T) {
	const timeout = time.Second
	m := compile(t, hostilePkg, func(c *sandbox.Config) { c.CallTimeout = timeout })
	p := m.NewPool(sandbox.PoolConfig{Instances: 1})
	start := time.Now()
	_, err := attack(context.Background(), t, p, map[string]string{"attack": "sleep", "sleep": "30s"})
	took := time.Since(start)
	var ce *sandbox.CallError
	if !errors.As(err, &ce) || ce.Kind != sandbox.KindTimeout {
		t.Fatalf("err = %v, want a timeout CallError", err)
	}
	if took > timeout+wakeMargin {
		t.Errorf("the sleeping guest was stopped after %s, want at most %s + %s", took, timeout, wakeMargin)
	}
	if s := p.Stats(); s.Timeouts != 1 {
		t.Errorf("stats %+v, want one timeout", s)
	}
	assertReplaced(t, p)
}

// TestSleepEndsWhenTheCallerCancels: a guest asleep when its caller gives
// up is stopped then, and its instance discarded.
func TestSleepEndsWhenTheCallerCancels(t *testing.T) {
	m := compile(t, hostilePkg, func(c *sandbox.Config) { c.CallTimeout = time.Minute })
	p := m.NewPool(sandbox.PoolConfig{Instances: 1})
	ctx, cancel := context.WithCancel(context.Background())
	const after = 500 * time.Millisecond
	timer := time.AfterFunc(after, cancel)
	defer timer.Stop()
	start := time.Now()
	_, err := attack(ctx, t, p, map[string]string{"attack": "sleep", "sleep": "30s"})
	took := time.Since(start)
	var ce *sandbox.CallError
	if !errors.As(err, &ce) || ce.Kind != sandbox.KindCanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a canceled CallError wrapping context.Canceled", err)
	}
	if took > after+wakeMargin {
		t.Errorf("the sleeping guest was stopped %s after its call began, want at most %s + %s", took, after, wakeMargin)
	}
	if s := p.Stats(); s.Canceled != 1 || s.Timeouts+s.Traps+s.OutputErrors != 0 {
		t.Errorf("stats %+v: a cancellation is counted as such, not as a guest failure", s)
	}
	assertReplaced(t, p)
}

// TestCallerDeadlineIsNotATimeout: a caller whose own deadline ends first
// gets a canceled CallError (wrapping DeadlineExceeded), not the sandbox's
// timeout, which is the guest's fault.
func TestCallerDeadlineIsNotATimeout(t *testing.T) {
	m := compile(t, probePkg, func(c *sandbox.Config) { c.CallTimeout = time.Minute })
	p := m.NewPool(sandbox.PoolConfig{Instances: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	in, _ := json.Marshal(abi.ListResourcesRequest{Call: abi.Call{Config: map[string]string{"probe": "loop"}}})
	_, err := p.Call(ctx, abi.ExportListResources, in, nil)
	var ce *sandbox.CallError
	if !errors.As(err, &ce) || ce.Kind != sandbox.KindCanceled || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a canceled CallError wrapping the caller's DeadlineExceeded", err)
	}
	if s := p.Stats(); s.Canceled != 1 || s.Timeouts != 0 {
		t.Errorf("stats %+v: the caller's deadline is not a guest timeout", s)
	}
}

// assertReplaced checks that the pool's one instance was discarded: the
// next call runs on a new one.
func assertReplaced(t *testing.T, p *sandbox.Pool) {
	t.Helper()
	before := p.Stats().InstancesCreated
	if _, err := attack(context.Background(), t, p, map[string]string{"attack": "env"}); err != nil {
		t.Fatalf("pool unusable after the attack: %v", err)
	}
	if s := p.Stats(); s.InstancesCreated != before+1 {
		t.Errorf("instances created %d → %d: the stopped instance must be replaced, not reused", before, s.InstancesCreated)
	}
}

// TestGuestTextIsClipped: a huge error_set message or trap text reaches the
// caller and the log clipped to abi.MaxTextBytes.
func TestGuestTextIsClipped(t *testing.T) {
	m := compile(t, hostilePkg, func(c *sandbox.Config) { c.CallTimeout = time.Minute })
	for _, tc := range []struct {
		attack, marker string
	}{
		{"huge-error-set", "EEEE"},
		{"huge-trap", "http://refused.test/uuuu"},
	} {
		t.Run(tc.attack, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			p := m.NewPool(sandbox.PoolConfig{Instances: 1, Logger: zap.New(core)})
			_, err := attack(context.Background(), t, p, map[string]string{"attack": tc.attack, "bytes": "4194304"})
			var ce *sandbox.CallError
			if !errors.As(err, &ce) || ce.Kind != sandbox.KindTrap {
				t.Fatalf("err = %.200v, want a trap CallError", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.marker) || !strings.Contains(msg, "more bytes cut") {
				t.Errorf("err = %.200q…, want the guest's text, clipped", msg)
			}
			if len(msg) > abi.MaxTextBytes+200 {
				t.Errorf("the error holds %d bytes of guest text, want at most about %d", len(msg), abi.MaxTextBytes)
			}
			for _, e := range logs.All() {
				if n := len(e.Message) + len(fmt.Sprint(e.ContextMap())); n > abi.MaxTextBytes+500 {
					t.Errorf("a %d-byte log line %.100q…", n, e.Message)
				}
			}
			if logs.FilterMessageSnippet("discarding").Len() != 1 {
				t.Errorf("want the discarded instance logged once")
			}
		})
	}
}

// countingWriter counts the bytes the host's logger writes.
type countingWriter struct {
	n     atomic.Int64
	mu    sync.Mutex
	lines []string
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.lines) < 1000 {
		w.lines = append(w.lines, string(p))
	}
	return len(p), nil
}

func (w *countingWriter) Sync() error { return nil }

// TestLogBudgetChargesWhatTheHostWrites floods a pool's log with empty and
// one-byte lines, at error level too, through a production JSON logger
// that adds stack traces to error lines, twice, with the instance
// discarded in between. The bytes the logger writes stay within the
// pool's budget plus one line (and what refills while the test runs).
func TestLogBudgetChargesWhatTheHostWrites(t *testing.T) {
	const budget = 64 << 10
	m := compile(t, hostilePkg, func(c *sandbox.Config) { c.MaxLogBytes = budget; c.CallTimeout = time.Minute })
	w := &countingWriter{}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), w, zapcore.DebugLevel)
	logger := zap.New(core, zap.AddStacktrace(zapcore.ErrorLevel), zap.AddCaller()).
		With(zap.String("tenant", strings.Repeat("t", 63)))
	p := m.NewPool(sandbox.PoolConfig{Instances: 1, Logger: logger})
	start := time.Now()
	flood := map[string]string{"attack": "log-flood-short", "lines": "20000"}
	if _, err := attack(context.Background(), t, p, flood); err != nil {
		t.Fatal(err)
	}
	if _, err := attack(context.Background(), t, p, map[string]string{"attack": "huge-trap", "bytes": "10"}); err == nil {
		t.Fatal("huge-trap: want the instance discarded")
	}
	if _, err := attack(context.Background(), t, p, flood); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	// The host's own lines (the warning, the discarded instance) are not
	// charged; leave them 2 KiB.
	const oneLine, hostLines = 512, 2 << 10
	refilled := int64(elapsed.Seconds()*budget/3600) + 1
	written := w.n.Load()
	t.Logf("40,000 log calls and 40,000 stderr lines: %d bytes written in %s; stats %+v", written, elapsed, p.Stats())
	if limit := budget + oneLine + hostLines + refilled; written > limit {
		t.Errorf("the host wrote %d bytes of guest logs, want at most %d", written, limit)
	}
	if written < budget/2 {
		t.Errorf("the host wrote %d bytes: the budget should have been used", written)
	}
	if s := p.Stats(); s.LogBytesDropped == 0 {
		t.Errorf("stats %+v: want dropped bytes counted", s)
	}
	warnings, guest := 0, 0
	for _, l := range w.lines {
		if strings.Contains(l, "log budget") {
			warnings++
		}
		if strings.Contains(l, `"guest":true`) {
			guest++
			if strings.Contains(l, "stacktrace") || strings.Contains(l, "caller") {
				t.Errorf("a guest line carries the host's stack or caller: %.300s", l)
			}
		}
	}
	if warnings != 1 || guest == 0 {
		t.Errorf("%d budget warnings and %d guest lines; want one warning", warnings, guest)
	}
}

// TestProcExitDiscardsTheInstance: a guest that calls proc_exit(0) in a
// call (which extism reports as success) fails the call, and its closed
// instance is not put back into the pool.
func TestProcExitDiscardsTheInstance(t *testing.T) {
	p := compile(t, hostilePkg, nil).NewPool(sandbox.PoolConfig{Instances: 1})
	_, err := attack(context.Background(), t, p, map[string]string{"attack": "proc-exit"})
	var ce *sandbox.CallError
	if !errors.As(err, &ce) || ce.Kind != sandbox.KindTrap || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("err = %v, want a trap CallError saying the guest exited", err)
	}
	if s := p.Stats(); s.Traps != 1 || s.MemoryBytes != 0 {
		t.Errorf("stats %+v: want one trap and the instance's memory released", s)
	}
	assertReplaced(t, p)
}

// TestAmplifiedOutputIsRefused: an output that is cheap to write and
// expensive to decode ({},{},… in a list) is refused before the host
// decodes it, by its size or by its count of values.
func TestAmplifiedOutputIsRefused(t *testing.T) {
	m := compile(t, hostilePkg, func(c *sandbox.Config) { c.CallTimeout = time.Minute; c.MemoryLimitMiB = 128 })
	for _, tc := range []struct {
		bytes, want string
	}{
		{"", "exceeds the limit"},                  // the default 16 MiB: over MaxOutputBytes
		{"1048576", "more than 50000 JSON values"}, // 350,000 values in 1 MiB
	} {
		t.Run(tc.want, func(t *testing.T) {
			p := m.NewPool(sandbox.PoolConfig{Instances: 1})
			cfg := map[string]string{"attack": "amplify"}
			if tc.bytes != "" {
				cfg["bytes"] = tc.bytes
			}
			_, err := attack(context.Background(), t, p, cfg)
			var ce *sandbox.CallError
			if !errors.As(err, &ce) || ce.Kind != sandbox.KindOutput || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want an output CallError saying %q", err, tc.want)
			}
		})
	}
}

// TestHandmadeModulesAreRefused: the modules that once broke the sandbox
// (a loop hidden behind a typed block, table.grow past the memory limit,
// a start function asleep for an hour) are refused by Compile before any
// of their code runs, each with the construct named; so is a declared
// table that would take most of the memory limit.
func TestHandmadeModulesAreRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		wasm []byte
		want string
	}{
		"typed block":    {handmade.TypedBlockLoop(), "block type"},
		"table.grow":     {handmade.TableGrow(1 << 26), "table.grow"},
		"start":          {handmade.StartSleeps(), "start function"},
		"declared table": {handmade.TableDeclared(1 << 20), "over half of the memory limit"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := sandbox.Compile(context.Background(), sandbox.Config{Wasm: tc.wasm, MemoryLimitMiB: 16, CallTimeout: time.Second})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "refused") {
				t.Fatalf("err = %v, want the module refused for its %s", err, tc.want)
			}
		})
	}
}

// TestCompileEndsAtTheCallTimeout: Compile calls the guest (its metadata)
// under the call timeout, so a module that spins there is refused at that
// deadline, not never.
func TestCompileEndsAtTheCallTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	start := time.Now()
	_, err := sandbox.Compile(context.Background(), sandbox.Config{Wasm: handmade.MetadataLoops(), CallTimeout: timeout})
	took := time.Since(start)
	var ce *sandbox.CallError
	if !errors.As(err, &ce) || ce.Kind != sandbox.KindTimeout {
		t.Fatalf("err = %v, want a timeout CallError", err)
	}
	if took > timeout+wakeMargin {
		t.Errorf("Compile returned after %s, want at most %s + %s", took, timeout, wakeMargin)
	}
}
