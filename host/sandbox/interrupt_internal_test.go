package sandbox

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// callsThroughALoop imports env.f, and exports "a", which calls a second
// function that loops forever. If instrument renumbered an index wrongly,
// "a" would run the import or the tick instead of the loop.
var callsThroughALoop = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type 0: () -> ()
	0x02, 0x09, 0x01, 0x03, 'e', 'n', 'v', 0x01, 'f', 0x00, 0x00, // import env.f
	0x03, 0x03, 0x02, 0x00, 0x00, // functions 1 and 2
	0x07, 0x05, 0x01, 0x01, 'a', 0x00, 0x01, // export "a" = function 1
	0x0a, 0x0e, 0x02,
	0x04, 0x00, 0x10, 0x02, 0x0b, // function 1: call 2
	0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // function 2: loop br 0 end
}

func TestInstrumentedLoopTicksUntilStopped(t *testing.T) {
	wasm, err := instrument(callsThroughALoop)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(false))
	defer r.Close(ctx)
	if _, err := r.NewHostModuleBuilder("env").NewFunctionBuilder().
		WithGoFunction(api.GoFunc(func(context.Context, []uint64) { panic("env.f called") }), nil, nil).
		Export("f").Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	ticks := 0
	if _, err := r.NewHostModuleBuilder(interruptNamespace).NewFunctionBuilder().
		WithGoFunction(api.GoFunc(func(context.Context, []uint64) {
			ticks++
			if ticks == 3 {
				panic(errors.New("stopped by the test"))
			}
		}), nil, nil).
		Export(interruptTick).Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := r.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.ExportedFunction("a").Call(ctx)
	if err == nil || !strings.Contains(err.Error(), "stopped by the test") {
		t.Fatalf("err = %v, want the tick's panic", err)
	}
	if ticks != 3 {
		t.Errorf("ticks = %d, want 3", ticks)
	}
}

func TestInstrumentHandlesTheGoGuests(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	for _, pkg := range []string{"guest/segment/wasm", "internal/testguests/probe", "internal/testguests/hostile", "internal/testguests/oldguest"} {
		orig, err := os.ReadFile(wasmbuild.Module(t, pkg))
		if err != nil {
			t.Fatal(err)
		}
		wasm, err := instrument(orig)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		cm, err := r.CompileModule(ctx, wasm)
		if err != nil {
			t.Fatalf("%s: instrumented module does not compile: %v", pkg, err)
		}
		found := false
		for _, imp := range cm.ImportedFunctions() {
			if mod, name, _ := imp.Import(); mod == interruptNamespace && name == interruptTick {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no %s.%s import", pkg, interruptNamespace, interruptTick)
		}
	}
}

func TestInstrumentRefusesWhatItCannotRewrite(t *testing.T) {
	simd := append([]byte(nil), callsThroughALoop...)
	// function 1 becomes v128.const…; the body's size no longer matches,
	// which the reader must refuse rather than misread.
	simd[len(simd)-11] = 0xfd
	truncated := callsThroughALoop[:len(callsThroughALoop)-3]
	// An invalid module whose loop sets global 0, which it does not have:
	// after instrumenting, index 0 would be the fuel, refilled forever.
	refills := append(append([]byte(nil), callsThroughALoop[:len(callsThroughALoop)-16]...),
		0x0a, 0x12, 0x02,
		0x04, 0x00, 0x10, 0x02, 0x0b,
		0x0b, 0x00, 0x03, 0x40, 0x41, 0x00, 0x24, 0x00, 0x0c, 0x00, 0x0b, 0x0b)
	for name, wasm := range map[string][]byte{"simd": simd, "truncated": truncated, "not wasm": []byte("hello world"), "refills the fuel": refills} {
		if _, err := instrument(wasm); !errors.Is(err, errUnsupported) {
			t.Errorf("%s: err = %v, want errUnsupported", name, err)
		}
	}
	if _, err := instrument(refills); err == nil || !strings.Contains(err.Error(), "global") {
		t.Errorf("refilling module: err = %v, want it refused for its global reference", err)
	}
}

// TestInstrumentCachedReusesItsOutput: the second compile of a module
// reads the rewrite from the cache directory instead of redoing it, and a
// module that cannot be instrumented leaves nothing there.
func TestInstrumentCachedReusesItsOutput(t *testing.T) {
	dir := t.TempDir()
	wasm := callsThroughALoop
	sum := sha256.Sum256(wasm)
	first, err := instrumentCached(wasm, sum, dir)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "instrumented-*.wasm"))
	if len(files) != 1 {
		t.Fatalf("cache holds %v, want one instrumented module", files)
	}
	// A marker written over the cached copy proves the next call read it.
	if err := os.WriteFile(files[0], append(slices.Clone(first), 0), 0o600); err != nil {
		t.Fatal(err)
	}
	second, err := instrumentCached(wasm, sum, dir)
	if err != nil || len(second) != len(first)+1 {
		t.Fatalf("second call returned %d bytes (err %v), want the cached %d", len(second), err, len(first)+1)
	}
	bad := []byte("\x00asm\x01\x00\x00\x00\x0a\x05")
	if _, err := instrumentCached(bad, sha256.Sum256(bad), dir); err == nil {
		t.Fatal("a truncated module was instrumented")
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 1 {
		t.Fatalf("cache holds %v after a refused module, want only the first", files)
	}
}
