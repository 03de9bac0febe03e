package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// compile compiles a test guest with small limits so containment tests run
// quickly.
func compile(t *testing.T, pkg string, mod func(*sandbox.Config)) *sandbox.Module {
	t.Helper()
	wasm, err := os.ReadFile(wasmbuild.Module(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	cfg := sandbox.Config{Wasm: wasm, CacheDir: cacheDir, MemoryLimitMiB: 64, CallTimeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	m, err := sandbox.Compile(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// fakeHTTP records what the guest asked for and answers with a fixed body.
type fakeHTTP struct {
	mu   sync.Mutex
	seen []abi.HTTPRequest
}

func (f *fakeHTTP) Do(_ context.Context, req abi.HTTPRequest) abi.HTTPResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, req)
	return abi.HTTPResponse{Status: 200, Body: []byte("hello from " + req.Path)}
}

type memSession map[string][]byte

func (m memSession) Get(_ context.Context, k string) ([]byte, bool, error) {
	v, ok := m[k]
	return v, ok, nil
}

func (m memSession) Set(_ context.Context, k string, v []byte) error {
	m[k] = v
	return nil
}

// probe runs the probe guest's named probe and returns the profile it
// reported, or the call's error.
func probe(t *testing.T, p *sandbox.Pool, name string, config map[string]string) (map[string]string, error) {
	t.Helper()
	cfg := map[string]string{"probe": name}
	for k, v := range config {
		cfg[k] = v
	}
	in, _ := json.Marshal(abi.ListResourcesRequest{Call: abi.Call{Config: cfg}, ResourceType: "thing"})
	out, err := p.Call(context.Background(), abi.ExportListResources, in, memSession{})
	if err != nil {
		return nil, err
	}
	var res abi.Result[abi.ResourcePage]
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("malformed output %q: %v", out, err)
	}
	if res.Error != nil {
		return nil, res.Error
	}
	return res.OK.Resources[0].Profile, nil
}

const probePkg = "internal/testguests/probe"

func TestRealClockAndSleep(t *testing.T) {
	p := compile(t, probePkg, nil).NewPool(sandbox.PoolConfig{})
	prof, err := probe(t, p, "clock", nil)
	if err != nil {
		t.Fatal(err)
	}
	now, err := time.Parse(time.RFC3339Nano, prof["now"])
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(now); d < 0 || d > time.Minute {
		t.Errorf("guest clock says %s, host says %s: the guest must see the real time", now, time.Now().UTC())
	}
	slept, _ := time.ParseDuration(prof["slept"])
	if slept < 20*time.Millisecond {
		t.Errorf("time.Sleep(20ms) in the guest took %s: sleep must be real", slept)
	}
}

func TestRandomnessDiffersBetweenInstances(t *testing.T) {
	m := compile(t, probePkg, nil)
	a, err := probe(t, m.NewPool(sandbox.PoolConfig{}), "rand", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := probe(t, m.NewPool(sandbox.PoolConfig{}), "rand", nil)
	if err != nil {
		t.Fatal(err)
	}
	if a["rand"] == b["rand"] {
		t.Errorf("two instances drew the same random bytes %s: the guest must get crypto randomness", a["rand"])
	}
}

func TestHTTPGoesThroughTheHostFunction(t *testing.T) {
	h := &fakeHTTP{}
	p := compile(t, probePkg, nil).NewPool(sandbox.PoolConfig{HTTP: h})
	prof, err := probe(t, p, "http", map[string]string{"path": "/users?pagination.count=1"})
	if err != nil {
		t.Fatal(err)
	}
	if prof["status"] != "200" || prof["body"] != "hello from /users?pagination.count=1" {
		t.Errorf("guest saw %v", prof)
	}
	if len(h.seen) != 1 || h.seen[0].Path != "/users?pagination.count=1" {
		t.Errorf("host saw %+v", h.seen)
	}
}

func TestNoEgressWithoutHTTP(t *testing.T) {
	p := compile(t, probePkg, nil).NewPool(sandbox.PoolConfig{})
	_, err := probe(t, p, "http", map[string]string{"path": "/"})
	var e *abi.Error
	if !errors.As(err, &e) || e.Code != abi.CodeEgressDenied {
		t.Fatalf("err = %v, want an egress_denied error value", err)
	}
}

func TestSession(t *testing.T) {
	p := compile(t, probePkg, nil).NewPool(sandbox.PoolConfig{})
	prof, err := probe(t, p, "session", map[string]string{"value": "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if prof["value"] != "v1" || prof["found"] != "true" || prof["missingFound"] != "false" {
		t.Errorf("session probe saw %v", prof)
	}
}

func TestNoEnvironmentArgsOrFiles(t *testing.T) {
	t.Setenv("BATON_TOKEN", "must-not-leak")
	p := compile(t, probePkg, nil).NewPool(sandbox.PoolConfig{})
	prof, err := probe(t, p, "env", nil)
	if err != nil {
		t.Fatal(err)
	}
	if prof["env"] != "" || prof["readErr"] != "true" || strings.Contains(prof["args"], "must-not-leak") {
		t.Errorf("guest saw env=%q args=%q readErr=%s", prof["env"], prof["args"], prof["readErr"])
	}
}

func TestErrorsAreValues(t *testing.T) {
	p := compile(t, probePkg, nil).NewPool(sandbox.PoolConfig{})
	_, err := probe(t, p, "error", nil)
	var e *abi.Error
	if !errors.As(err, &e) || e.Code != abi.CodeUnauthenticated {
		t.Fatalf("err = %v, want the guest's unauthenticated error", err)
	}
	if s := p.Stats(); s.Traps+s.Timeouts+s.OutputErrors != 0 || s.InstancesCreated != 1 {
		t.Errorf("a connector error must not discard the instance: %+v", s)
	}
}

// TestContainment runs each misbehaviour and checks that it fails with the
// right kind, that its instance is discarded, and that the pool keeps
// serving.
func TestContainment(t *testing.T) {
	// Only the loop should meet the deadline; the others get a generous one
	// so a loaded machine cannot turn their trap into a timeout.
	short := compile(t, probePkg, func(c *sandbox.Config) { c.CallTimeout = 500 * time.Millisecond })
	long := compile(t, probePkg, func(c *sandbox.Config) { c.CallTimeout = time.Minute })
	for _, tc := range []struct {
		probe  string
		kind   sandbox.ErrorKind
		module *sandbox.Module
	}{
		{"loop", sandbox.KindTimeout, short},
		{"panic", sandbox.KindTrap, long},
		{"memory", sandbox.KindTrap, long},
	} {
		t.Run(tc.probe, func(t *testing.T) {
			p := tc.module.NewPool(sandbox.PoolConfig{Instances: 1})
			start := time.Now()
			_, err := probe(t, p, tc.probe, nil)
			var ce *sandbox.CallError
			if !errors.As(err, &ce) || ce.Kind != tc.kind {
				t.Fatalf("err = %v, want a %s CallError", err, tc.kind)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("containing %s took %s", tc.probe, d)
			}
			if _, err := probe(t, p, "clock", nil); err != nil {
				t.Fatalf("pool unusable after %s: %v", tc.probe, err)
			}
			if s := p.Stats(); s.InstancesCreated != 2 {
				t.Errorf("instances created = %d, want 2 (the failed one replaced)", s.InstancesCreated)
			}
		})
	}
}

func TestLogFloodIsCapped(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	// 20,000 lines of 1,000 bytes take about 2 s under -race: the call
	// timeout is not what this test is about.
	m := compile(t, probePkg, func(c *sandbox.Config) { c.MaxLogBytes = 64 << 10; c.CallTimeout = time.Minute })
	p := m.NewPool(sandbox.PoolConfig{Logger: zap.New(core)})
	if _, err := probe(t, p, "logflood", nil); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, e := range logs.All() {
		total += len(e.Message)
	}
	if total > 70<<10 {
		t.Errorf("guest logged %d bytes past a 64 KiB budget", total)
	}
	if logs.FilterMessageSnippet("log budget").Len() != 1 {
		t.Errorf("want one warning that the budget was exceeded")
	}
}

func TestOutputLimit(t *testing.T) {
	m := compile(t, probePkg, func(c *sandbox.Config) { c.MaxOutputBytes = 64 << 10 })
	_, err := probe(t, m.NewPool(sandbox.PoolConfig{}), "big", nil)
	var ce *sandbox.CallError
	if !errors.As(err, &ce) || ce.Kind != sandbox.KindOutput {
		t.Fatalf("err = %v, want an output CallError", err)
	}
}

func TestRefusesOtherABIVersions(t *testing.T) {
	wasm, err := os.ReadFile(wasmbuild.Module(t, "internal/testguests/abiv2"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = sandbox.Compile(context.Background(), sandbox.Config{Wasm: wasm})
	if err == nil || !strings.Contains(err.Error(), "ABI version 2") {
		t.Fatalf("err = %v, want a refusal naming ABI version 2", err)
	}
}

func TestRefusesNonWasm(t *testing.T) {
	_, err := sandbox.Compile(context.Background(), sandbox.Config{Wasm: []byte("#!/bin/sh\necho hi\n")})
	if err == nil || !strings.Contains(err.Error(), "not a WebAssembly binary") {
		t.Fatalf("err = %v", err)
	}
}

// cacheDir is shared by the tests so the probe compiles once per run, as it
// would in a long-running host.
var cacheDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "sandbox-test-cache-")
	if err != nil {
		panic(err)
	}
	cacheDir = d
	code := m.Run()
	_ = os.RemoveAll(d)
	os.Exit(code)
}

// TestMemoryIsMetered: the pool reports the linear memory its instances
// hold, it grows when a guest allocates, and it is released with the
// instance.
func TestMemoryIsMetered(t *testing.T) {
	p := compile(t, probePkg, nil).NewPool(sandbox.PoolConfig{Instances: 1})
	if _, err := probe(t, p, "clock", nil); err != nil {
		t.Fatal(err)
	}
	idle := p.Stats().MemoryBytes
	if idle < 2<<20 {
		t.Fatalf("an initialised Go guest holds %d bytes of linear memory, want at least its 2.7 MiB minimum", idle)
	}
	if _, err := probe(t, p, "big", nil); err != nil {
		t.Fatal(err)
	}
	if grown := p.Stats().MemoryBytes; grown <= idle {
		t.Errorf("memory %d after building a 1 MiB result, %d before", grown, idle)
	}
	p.Close(context.Background())
	if left := p.Stats().MemoryBytes; left != 0 {
		t.Errorf("%d bytes still counted after Close", left)
	}
}

func TestReleaseIdle(t *testing.T) {
	p := compile(t, probePkg, nil).NewPool(sandbox.PoolConfig{Instances: 1})
	if _, err := probe(t, p, "clock", nil); err != nil {
		t.Fatal(err)
	}
	p.ReleaseIdle(context.Background())
	if s := p.Stats(); s.MemoryBytes != 0 {
		t.Errorf("%d bytes held after releasing the idle instance", s.MemoryBytes)
	}
	if _, err := probe(t, p, "clock", nil); err != nil {
		t.Fatalf("pool unusable after ReleaseIdle: %v", err)
	}
	if s := p.Stats(); s.InstancesCreated != 2 {
		t.Errorf("instances created = %d, want 2", s.InstancesCreated)
	}
}

// TestMemoryLimitIsPerInstance: the memory limit caps the guest's linear
// memory and the extism kernel's together. The probe first fills the
// kernel's memory, then grows its own heap until it runs out; with a cap
// per memory the instance would reach twice the limit.
func TestMemoryLimitIsPerInstance(t *testing.T) {
	const limitMiB = 64
	m := compile(t, probePkg, func(c *sandbox.Config) { c.MemoryLimitMiB = limitMiB; c.CallTimeout = time.Minute })
	p := m.NewPool(sandbox.PoolConfig{Instances: 1})
	prof, err := probe(t, p, "kernel-fill", nil)
	if err != nil {
		t.Fatal(err)
	}
	filled := p.Stats().MemoryBytes
	t.Logf("kernel blocks of 1 MiB: %s; instance memory %d MiB", prof["kernelMiB"], filled>>20)
	if filled < limitMiB<<20/2 {
		t.Fatalf("the kernel filled only to %d bytes in total; the test needs it to hold most of the instance", filled)
	}
	_, err = probe(t, p, "memory", nil)
	var ce *sandbox.CallError
	if !errors.As(err, &ce) || ce.Kind != sandbox.KindTrap {
		t.Fatalf("err = %v, want the memory bomb to trap", err)
	}
	if s := p.Stats(); s.PeakMemoryBytes > limitMiB<<20 {
		t.Errorf("the instance held %d MiB at its peak, over its %d MiB limit", s.PeakMemoryBytes>>20, limitMiB)
	}
	if _, err := probe(t, p, "clock", nil); err != nil {
		t.Fatalf("pool unusable after the memory bomb: %v", err)
	}
}

// TestCloseWaitsForCallsInFlight: Close returns only once the calls in
// flight have returned (the module may then be closed safely), a second
// Close does not block, and calls after Close fail at once.
func TestCloseWaitsForCallsInFlight(t *testing.T) {
	m := compile(t, probePkg, func(c *sandbox.Config) { c.CallTimeout = time.Minute })
	p := m.NewPool(sandbox.PoolConfig{Instances: 1})
	input := func(name string) []byte {
		in, _ := json.Marshal(abi.ListResourcesRequest{Call: abi.Call{Config: map[string]string{"probe": name}}, ResourceType: "thing"})
		return in
	}
	ctx, cancel := context.WithCancel(context.Background())
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		_, _ = p.Call(ctx, abi.ExportListResources, input("sleep"), nil)
	}()
	for deadline := time.Now().Add(time.Minute); p.Stats().Calls == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the sleeping call never started")
		}
	}
	closed := make(chan struct{})
	go func() { p.Close(context.Background()); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a call was in flight")
	case <-time.After(200 * time.Millisecond):
	}
	cancel() // the caller gives up: its call ends, and then Close
	<-returned
	<-closed
	p.Close(context.Background())
	if _, err := p.Call(context.Background(), abi.ExportListResources, input("clock"), nil); !errors.Is(err, sandbox.ErrPoolClosed) {
		t.Errorf("call after Close: %v, want ErrPoolClosed", err)
	}
}
