package fuel_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/baton-runner/baton-runner/host/sandbox/internal/fuel"
	"github.com/baton-runner/baton-runner/internal/testguests/handmade"
	a "github.com/baton-runner/baton-runner/internal/wasmasm"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

var void = a.Type{}

// callsThroughALoop imports env.f and exports "a", which calls a second
// function that loops forever. If Instrument renumbered an index wrongly,
// "a" would run the import or the tick instead of the loop.
var callsThroughALoop = a.Module{
	Types:   []a.Type{void},
	Imports: []a.Import{{Module: "env", Name: "f"}},
	Funcs: []a.Func{
		{Body: []byte{a.OpCall, 2, a.OpEnd}, Export: "a"},
		{Body: []byte{a.OpLoop, a.Void, a.OpBr, 0, a.OpEnd, a.OpEnd}},
	},
}.Encode()

// doublingRecursion exports "a", which calls f(16); f(n) calls f(n-1)
// twice unless n is 0. It has no loop, yet with a larger n it would run
// for ever: 2^n calls.
var doublingRecursion = a.Module{
	Types: []a.Type{{Params: []byte{a.I32}}, void},
	Funcs: []a.Func{
		{Type: 0, Body: []byte{
			a.OpLocalGet, 0, a.OpIf, a.Void,
			a.OpLocalGet, 0, a.OpI32Const, 1, a.OpI32Sub, a.OpCall, 0,
			a.OpLocalGet, 0, a.OpI32Const, 1, a.OpI32Sub, a.OpCall, 0,
			a.OpEnd, a.OpEnd}},
		{Type: 1, Body: []byte{a.OpI32Const, 16, a.OpCall, 0, a.OpEnd}, Export: "a"},
	},
}.Encode()

// simdLoop exports "a", a loop whose body pushes and drops a v128
// constant of sixteen 0x03 bytes, the opcode of loop: read as
// instructions instead of an immediate they would be instrumented, and
// the module would no longer compile.
var simdLoop = a.Module{
	Types: []a.Type{void},
	Funcs: []a.Func{{Export: "a", Body: append(append([]byte{a.OpLoop, a.Void, 0xfd, 0x0c}, bytes.Repeat([]byte{a.OpLoop}, 16)...),
		a.OpDrop, a.OpBr, 0, a.OpEnd, a.OpEnd)}},
}.Encode()

// namedCallsThroughALoop is callsThroughALoop with a "name" section:
// the module "m", functions f, outer, spin.
var namedCallsThroughALoop = append(bytes.Clone(callsThroughALoop),
	0x00, 0x1c, 0x04, 'n', 'a', 'm', 'e',
	0x00, 0x02, 0x01, 'm', // module name
	0x01, 0x11, 0x03, // function names: 3
	0x00, 0x01, 'f',
	0x01, 0x05, 'o', 'u', 't', 'e', 'r',
	0x02, 0x04, 's', 'p', 'i', 'n')

// stopAtThirdTick runs export "a" of the instrumented wasm with a tick that
// stops the call the third time it comes, and returns the ticks seen and
// the call's error.
func stopAtThirdTick(t *testing.T, wasm []byte) (int, error) {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	if _, err := r.NewHostModuleBuilder("env").NewFunctionBuilder().
		WithGoFunction(api.GoFunc(func(context.Context, []uint64) { panic("env.f called") }), nil, nil).
		Export("f").Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	ticks := 0
	if _, err := r.NewHostModuleBuilder(fuel.Namespace).NewFunctionBuilder().
		WithGoFunction(api.GoFunc(func(context.Context, []uint64) {
			ticks++
			if ticks == 3 {
				panic(errors.New("stopped by the test"))
			}
		}), nil, nil).
		Export(fuel.TickName).Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := r.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.ExportedFunction("a").Call(ctx)
	return ticks, err
}

// TestEveryCycleTicks: loops, loops behind a SIMD constant full of loop
// opcodes, and recursion without loops all pay fuel, and a function's
// name survives the renumbering into the trap's stack trace.
func TestEveryCycleTicks(t *testing.T) {
	for name, tc := range map[string]struct {
		wasm  []byte
		trace string
	}{
		"loop":      {callsThroughALoop, ""},
		"recursion": {doublingRecursion, ""},
		"simd":      {simdLoop, ""},
		"names":     {namedCallsThroughALoop, ".spin("},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := fuel.Instrument(tc.wasm)
			if err != nil {
				t.Fatal(err)
			}
			ticks, err := stopAtThirdTick(t, res.Wasm)
			if err == nil || !strings.Contains(err.Error(), "stopped by the test") {
				t.Fatalf("err = %v after %d ticks, want the tick's panic", err, ticks)
			}
			if !strings.Contains(err.Error(), tc.trace) {
				t.Errorf("err = %v, want a stack trace through %q", err, tc.trace)
			}
		})
	}
}

// TestRefused: what the rewriter does not accept, with the section and
// the reason it names. wazero accepts the first three; they broke the
// sandbox (issue 18).
func TestRefused(t *testing.T) {
	types := []a.Type{void}
	loopIn := func(body ...byte) []byte {
		return a.Module{Types: types, Funcs: []a.Func{{Export: "a", Body: body}}}.Encode()
	}
	for name, tc := range map[string]struct {
		wasm            []byte
		section, reason string
		wazeroAccepts   bool
	}{
		"typed reference block": {handmade.TypedBlockLoop(), "code", "block type", true},
		"table.grow":            {handmade.TableGrow(1 << 26), "code", "table.grow", true},
		"start section":         {handmade.StartSleeps(), "module", "start function", true},
		"exnref block":          {loopIn(a.OpBlock, 0x69, a.OpEnd, a.OpEnd), "code", "block type", false},
		"return_call":           {loopIn(0x12, 0, a.OpEnd), "code", "opcode 0x12", false},
		"call past the end": {loopIn(append(append([]byte{a.OpCall}, a.U32(1<<32-1)...), a.OpEnd)...),
			"code", "function index 4294967295", false},
		"br_table wrap-around": {loopIn(append(append([]byte{a.OpI32Const, 0, a.OpBrTable}, a.U32(1<<32-1)...), 0, a.OpEnd)...),
			"code", "items declared", false},
		"refills the fuel": {loopIn(a.OpLoop, a.Void, a.OpI32Const, 0, a.OpGlobalSet, 0, a.OpBr, 0, a.OpEnd, a.OpEnd),
			"code", "global 0", false},
		"truncated": {callsThroughALoop[:len(callsThroughALoop)-3], "module", "bytes declared", false},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := fuel.Instrument(tc.wasm)
			var re *fuel.RefusedError
			if !errors.As(err, &re) || re.Section != tc.section || !strings.Contains(re.Reason, tc.reason) || re.Offset <= 0 {
				t.Fatalf("err = %v, want a refusal in the %s section naming %q at an offset", err, tc.section, tc.reason)
			}
			if tc.wazeroAccepts {
				ctx := context.Background()
				r := wazero.NewRuntime(ctx)
				defer r.Close(ctx)
				if _, err := r.CompileModule(ctx, tc.wasm); err != nil {
					t.Errorf("wazero refuses the module too (%v): the case no longer shows a gap", err)
				}
			}
		})
	}
}

// TestRefusesMemoryBombs: wazero v1.12.0 allocates what a module declares
// before reading it (a 15-byte module asked it for 16 GiB to 480 GiB, a
// fatal out-of-memory no recover catches). Every count is read against
// the bytes behind it, so these never reach wazero.
func TestRefusesMemoryBombs(t *testing.T) {
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
	}
	for name, bomb := range bombs {
		var re *fuel.RefusedError
		if _, err := fuel.Instrument([]byte(bomb)); !errors.As(err, &re) {
			t.Errorf("%s: err = %v, want it refused", name, err)
		}
	}
	// A name section is only labels: one that cannot be read is dropped,
	// the module kept; a module name of 4 GiB is not copied.
	for name, names := range map[string]string{
		"function names": "\x00\x0d\x04name\x01\x06\xff\xff\xff\xff\x0f\x00",
		"module name":    "\x00\x0d\x04name\x00\x06\xff\xff\xff\xff\x0f\x00",
	} {
		res, err := fuel.Instrument([]byte(header + names))
		if err != nil || bytes.Contains(res.Wasm, []byte("name")) {
			t.Errorf("%s: err = %v, section kept: %t", name, err, bytes.Contains(res.Wasm, []byte("name")))
		}
	}
}

// TestInstanceBytes: what an instance holds outside its linear memory is
// counted: a declared table at 8 bytes an entry, globals and functions.
func TestInstanceBytes(t *testing.T) {
	small, err := fuel.Instrument(handmade.TableDeclared(1))
	if err != nil {
		t.Fatal(err)
	}
	big, err := fuel.Instrument(handmade.TableDeclared(1 << 20))
	if err != nil {
		t.Fatal(err)
	}
	if d := big.InstanceBytes - small.InstanceBytes; d != 8*(1<<20-1) {
		t.Errorf("a table of 2^20 entries costs %d bytes more than one of 1, want %d", d, 8*(1<<20-1))
	}
	if small.InstanceBytes < 5*32+64 { // five functions, the fuel global
		t.Errorf("instance bytes %d: functions and globals are not counted", small.InstanceBytes)
	}
}

// TestHandlesTheGoGuests: the guests this project builds are accepted,
// compile, and import the tick.
func TestHandlesTheGoGuests(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	for _, pkg := range []string{"guest/segment/wasm", "internal/testguests/probe", "internal/testguests/hostile", "internal/testguests/oldguest"} {
		orig, err := wasmbuild.Read(pkg)
		if err != nil {
			t.Fatal(err)
		}
		res, err := fuel.Instrument(orig)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		cm, err := r.CompileModule(ctx, res.Wasm)
		if err != nil {
			t.Fatalf("%s: instrumented module does not compile: %v", pkg, err)
		}
		found := false
		for _, imp := range cm.ImportedFunctions() {
			if mod, name, _ := imp.Import(); mod == fuel.Namespace && name == fuel.TickName {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no %s.%s import", pkg, fuel.Namespace, fuel.TickName)
		}
	}
}
