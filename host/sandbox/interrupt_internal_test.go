package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	extism "github.com/extism/go-sdk"
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
	ticks, err := stopAtThirdTick(t, wasm)
	if err == nil || !strings.Contains(err.Error(), "stopped by the test") {
		t.Fatalf("err = %v, want the tick's panic", err)
	}
	if ticks != 3 {
		t.Errorf("ticks = %d, want 3", ticks)
	}
}

// doublingRecursion exports "a", which calls f(16); f(n) calls f(n-1)
// twice unless n is 0. It has no loop, yet with a larger n it would run
// for ever: 2^n calls.
var doublingRecursion = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x08, 0x02, 0x60, 0x01, 0x7f, 0x00, 0x60, 0x00, 0x00, // types: (i32) -> (), () -> ()
	0x03, 0x03, 0x02, 0x00, 0x01, // f: type 0, a: type 1
	0x07, 0x05, 0x01, 0x01, 'a', 0x00, 0x01, // export "a" = function 1
	0x0a, 0x1e, 0x02,
	0x15, 0x00, 0x20, 0x00, 0x04, 0x40, // f: if n
	0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x00, // f(n-1)
	0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x00, // f(n-1)
	0x0b, 0x0b,
	0x06, 0x00, 0x41, 0x10, 0x10, 0x00, 0x0b, // a: f(16)
}

// stopAtThirdTick runs export "a" of the instrumented wasm with a tick that
// stops the call the third time it comes, and returns the call's error and
// the ticks seen.
func stopAtThirdTick(t *testing.T, wasm []byte) (int, error) {
	t.Helper()
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
	return ticks, err
}

// TestInstrumentedRecursionTicksUntilStopped: calls pay fuel too, so a
// guest that recurses without looping is stopped like one that loops.
func TestInstrumentedRecursionTicksUntilStopped(t *testing.T) {
	wasm, err := instrument(doublingRecursion)
	if err != nil {
		t.Fatal(err)
	}
	ticks, err := stopAtThirdTick(t, wasm)
	if err == nil || !strings.Contains(err.Error(), "stopped by the test") {
		t.Fatalf("err = %v after %d ticks, want the tick's panic", err, ticks)
	}
}

// simdLoop exports "a", a loop whose body pushes and drops a v128
// constant of sixteen 0x03 bytes, the opcode of loop: read as
// instructions instead of an immediate they would be instrumented, and
// the module would no longer compile.
var simdLoop = append(append([]byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type 0: () -> ()
	0x03, 0x02, 0x01, 0x00, // function 0
	0x07, 0x05, 0x01, 0x01, 'a', 0x00, 0x00, // export "a" = function 0
	0x0a, 0x1c, 0x01, 0x1a, 0x00,
	0x03, 0x40, 0xfd, 0x0c, // loop; v128.const
}, bytes.Repeat([]byte{0x03}, 16)...),
	0x1a, 0x0c, 0x00, 0x0b, 0x0b) // drop; br 0; end; end

// TestInstrumentedSIMDLoopTicksUntilStopped: SIMD, which the runtime
// enables, is read like any other instruction, so a module that uses it
// is instrumented too (it once ran without fuel checks).
func TestInstrumentedSIMDLoopTicksUntilStopped(t *testing.T) {
	wasm, err := instrument(simdLoop)
	if err != nil {
		t.Fatal(err)
	}
	ticks, err := stopAtThirdTick(t, wasm)
	if err == nil || !strings.Contains(err.Error(), "stopped by the test") {
		t.Fatalf("err = %v after %d ticks, want the tick's panic", err, ticks)
	}
}

// crashesWazero has a call to a function whose type index is past the
// type section: wazero v1.12.0's validator panics on it.
var crashesWazero = []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01`\x00\x00\x02\t\x01\x03000\x010\x00\x00" +
	"\x03\x03\x02\x000\n\x0e\x02\x04\x00\x10\x02\v\a\x0000000\v")

// TestCompileSurvivesARuntimePanic: a module that crashes wazero is one
// refused module, not a crashed host. instrument refuses this one before
// wazero sees it; compilePlugin's recover is there for the crashes not
// yet known.
func TestCompileSurvivesARuntimePanic(t *testing.T) {
	ctx := context.Background()
	if _, err := Compile(ctx, Config{Wasm: crashesWazero}); err == nil || !strings.Contains(err.Error(), "undefined type") {
		t.Fatalf("Compile: err = %v, want the module refused for its undefined type", err)
	}
	manifest := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: crashesWazero}}}
	if _, err := compilePlugin(ctx, manifest, wazero.NewRuntimeConfig()); err == nil || !strings.Contains(err.Error(), "failed on the module") {
		t.Fatalf("compilePlugin: err = %v, want the runtime's failure reported", err)
	}
}

// namedCallsThroughALoop is callsThroughALoop with a "name" section:
// f, outer, spin.
var namedCallsThroughALoop = append(slices.Clone(callsThroughALoop),
	0x00, 0x18, 0x04, 'n', 'a', 'm', 'e',
	0x01, 0x11, 0x03, // function names: 3
	0x00, 0x01, 'f',
	0x01, 0x05, 'o', 'u', 't', 'e', 'r',
	0x02, 0x04, 's', 'p', 'i', 'n')

// TestInstrumentKeepsFunctionNames: a module's "name" section follows its
// functions' new indices, so a trap's stack trace names the guest's own
// functions.
func TestInstrumentKeepsFunctionNames(t *testing.T) {
	wasm, err := instrument(namedCallsThroughALoop)
	if err != nil {
		t.Fatal(err)
	}
	_, err = stopAtThirdTick(t, wasm)
	if err == nil || !strings.Contains(err.Error(), ".outer(") || !strings.Contains(err.Error(), ".spin(") {
		t.Fatalf("err = %v, want a stack trace through outer and spin", err)
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
	truncated := callsThroughALoop[:len(callsThroughALoop)-3]
	// An invalid module whose loop sets global 0, which it does not have:
	// after instrumenting, index 0 would be the fuel, refilled forever.
	refills := append(append([]byte(nil), callsThroughALoop[:len(callsThroughALoop)-16]...),
		0x0a, 0x12, 0x02,
		0x04, 0x00, 0x10, 0x02, 0x0b,
		0x0b, 0x00, 0x03, 0x40, 0x41, 0x00, 0x24, 0x00, 0x0c, 0x00, 0x0b, 0x0b)
	for name, wasm := range map[string][]byte{"truncated": truncated, "not wasm": []byte("hello world"), "refills the fuel": refills} {
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

// FuzzInstrument: whatever the bytes, instrument neither panics nor
// loops; what it accepts, wazero compiles (or refuses) exactly as it does
// the module unchanged (custom sections apart), so Compile never runs a
// module it misread. What
// instrument refuses is not handed to wazero here either: wazero
// allocates what a module's counts declare (TestInstrumentRefusesMemoryBombs),
// and Compile only ever hands it what instrument accepted.
func FuzzInstrument(f *testing.F) {
	for _, seed := range [][]byte{callsThroughALoop, namedCallsThroughALoop, doublingRecursion, simdLoop} {
		f.Add(seed)
	}
	ctx := context.Background()
	// wazero's validator panics on some invalid modules (compilePlugin);
	// such a module counts as refused. A runtime a panic went through is
	// not used again.
	compiles := func(wasm []byte) (err error) {
		r := wazero.NewRuntime(ctx)
		defer r.Close(ctx)
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("wazero panicked: %v", r)
			}
		}()
		_, err = r.CompileModule(ctx, wasm)
		return err
	}
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := instrument(wasm)
		if err != nil {
			return
		}
		origErr, outErr := compiles(wasm), compiles(out)
		// Custom sections other than a readable "name" are dropped, so a
		// broken one no longer fails the module.
		if (origErr == nil) != (outErr == nil) && !strings.Contains(fmt.Sprint(origErr), "custom") {
			t.Fatalf("wazero on the module: %v; on its instrumented copy: %v", origErr, outErr)
		}
	})
}

// TestInstrumentRefusesMemoryBombs: wazero v1.12.0 allocates what a
// module declares before reading it (a 15-byte module asked it for 16 GiB
// to 480 GiB, a fatal out-of-memory no recover catches). instrument reads
// every count it lets through, so these never reach wazero.
func TestInstrumentRefusesMemoryBombs(t *testing.T) {
	const header = "\x00asm\x01\x00\x00\x00"
	const huge = "\x05\xff\xff\xff\xff\x0f" // a section of 5 bytes: a count of 2^32-1
	bombs := map[string]string{
		"functions": header + "\x03" + huge,
		"types":     header + "\x01" + huge,
		"imports":   header + "\x02" + huge,
		"tables":    header + "\x04" + huge,
		"memories":  header + "\x05" + huge,
		"globals":   header + "\x06" + huge,
		"exports":   header + "\x07" + huge,
		"elements":  header + "\x09" + huge,
		"code":      header + "\x0a" + huge,
		"data":      header + "\x0b" + huge,
		"tags":      header + "\x0d" + huge,
		// one data segment of 4 GiB, one function of 2^32-1 locals
		"data bytes": header + "\x0b\x09\x01\x01\xff\xff\xff\xff\x0f\x00\x00",
		"locals":     header + "\x0a\x0a\x01\x08\x01\xff\xff\xff\xff\x0f\x7f\x0b",
		"names":      header + "\x00\x0d\x04name\x01\x06\xff\xff\xff\xff\x0f\x00",
	}
	for name, bomb := range bombs {
		out, err := instrument([]byte(bomb))
		if name == "names" {
			// A name section is only labels: one that cannot be read is
			// dropped, and the module kept.
			if err != nil || bytes.Contains(out, []byte("name")) {
				t.Errorf("names: err = %v, section kept: %t", err, bytes.Contains(out, []byte("name")))
			}
			continue
		}
		if !errors.Is(err, errUnsupported) {
			t.Errorf("%s: err = %v, want it refused", name, err)
		}
	}
}
