package fuel_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/baton-runner/baton-runner/host/sandbox/internal/fuel"
	"github.com/baton-runner/baton-runner/internal/testguests/handmade"
	a "github.com/baton-runner/baton-runner/internal/wasmasm"
)

// FuzzInstrument holds the rewriter to two properties for any bytes:
//
//   - What it accepts, wazero compiles (or refuses) exactly as it does the
//     module unchanged (custom sections apart), so Compile never runs a
//     module it misread.
//   - Its memory after instantiation is the module's, byte for byte (data
//     segments are merged), wherever both instantiate.
//   - Termination: every export of an accepted module, called with zero
//     arguments and a deadline of callDeadline, returns within
//     terminationBound, whatever its code. A loop or a recursion that
//     escaped the fuel runs until the bound and fails the target.
//
// What it refuses is not handed to wazero: wazero allocates what a
// module's counts declare (TestRefusesMemoryBombs).
func FuzzInstrument(f *testing.F) {
	for _, seed := range [][]byte{callsThroughALoop, namedCallsThroughALoop, doublingRecursion, simdLoop,
		handmade.TypedBlockLoop(), handmade.TableGrow(1 << 26), handmade.StartSleeps(), handmade.TableDeclared(4),
		a.Module{Memory: &a.Table{Min: 1}, Data: [][]byte{a.ActiveData(16, []byte("ab")), a.ActiveData(40, []byte("cd")), a.ActiveData(30, []byte("e"))}}.Encode()} {
		f.Add(seed)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, wasm []byte) {
		res, err := fuel.Instrument(wasm)
		if err != nil {
			return
		}
		origErr, outErr := compiles(ctx, wasm), compiles(ctx, res.Wasm)
		// Custom sections other than a readable "name" are dropped, so a
		// broken one no longer fails the module.
		if (origErr == nil) != (outErr == nil) && !strings.Contains(fmt.Sprint(origErr), "custom") {
			t.Fatalf("wazero on the module: %v; on its instrumented copy: %v", origErr, outErr)
		}
		if outErr != nil {
			return
		}
		want, wantErr := instantiatedMemory(wasm)
		got, gotErr := instantiatedMemory(res.Wasm)
		if wantErr == nil && gotErr == nil && !bytes.Equal(got, want) {
			t.Fatal("the instrumented module's memory differs from the module's after instantiation")
		}
		if err := terminates(ctx, res.Wasm, terminationBound); err != nil {
			t.Fatal(err)
		}
	})
}

// compiles reports wazero's verdict. Its validator panics on some invalid
// modules (sandbox.compilePlugin); such a module counts as refused, and a
// runtime a panic went through is not used again.
func compiles(ctx context.Context, wasm []byte) (err error) {
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("wazero panicked: %v", p)
		}
	}()
	_, err = r.CompileModule(ctx, wasm)
	return err
}

const (
	callDeadline = 20 * time.Millisecond
	// terminationBound is far above what a stopped call takes (under a
	// millisecond past its deadline) and far below what an unstopped loop
	// would: a failure means no fuel, not a slow machine.
	terminationBound = 10 * time.Second
	// fuzzMemoryPages keeps what a fuzzed module's memory.grow can take
	// small (16 MiB), like the sandbox's page limit.
	fuzzMemoryPages = 256
)

var errStopped = errors.New("stopped by the tick")

type tickDeadlineKey struct{}

// terminates instantiates the instrumented module with the tick and a
// stub for every other imported function, and calls each export. The
// tick stops a call callDeadline after it began; wazero's own check at
// loop headers stops it at bound, and a call that lasts that long had a
// loop without fuel. A module importing anything but functions fails to
// instantiate and is skipped: nothing here provides tables, memories or
// globals.
func terminates(ctx context.Context, wasm []byte, bound time.Duration) error {
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithMemoryLimitPages(fuzzMemoryPages).WithCloseOnContextDone(true))
	defer r.Close(ctx)
	cm, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return fmt.Errorf("instrumented module compiled once, not twice: %w", err)
	}
	hosts := map[string]wazero.HostModuleBuilder{}
	for _, imp := range cm.ImportedFunctions() {
		mod, name, _ := imp.Import()
		h, ok := hosts[mod]
		if !ok {
			h = r.NewHostModuleBuilder(mod)
			hosts[mod] = h
		}
		fn := api.GoFunc(func(context.Context, []uint64) {}) // results stay zero
		if mod == fuel.Namespace && name == fuel.TickName {
			fn = func(ctx context.Context, _ []uint64) {
				if time.Now().After(ctx.Value(tickDeadlineKey{}).(time.Time)) {
					panic(errStopped)
				}
			}
		}
		h.NewFunctionBuilder().WithGoFunction(fn, imp.ParamTypes(), imp.ResultTypes()).Export(name)
	}
	for _, h := range hosts {
		if _, err := h.Instantiate(ctx); err != nil {
			return nil // the same name imported with two signatures
		}
	}
	m, err := r.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		return nil // traps while initialising tables or memory
	}
	for name, def := range cm.ExportedFunctions() {
		start := time.Now()
		callCtx, cancel := context.WithTimeout(context.WithValue(ctx, tickDeadlineKey{}, start.Add(callDeadline)), bound)
		_, _ = m.ExportedFunction(name).Call(callCtx, make([]uint64, len(def.ParamTypes()))...)
		cancel()
		if took := time.Since(start); took >= bound {
			return fmt.Errorf("export %q ran %s, past a %s deadline: some loop has no fuel check", name, took, callDeadline)
		}
		if m.IsClosed() {
			return nil // closed by a stop: later calls would fail at once
		}
	}
	return nil
}

// TestTerminationOracleSeesALoopWithoutFuel: the fuzzer's oracle fails a
// module whose loop never ticks, though it imports the tick.
func TestTerminationOracleSeesALoopWithoutFuel(t *testing.T) {
	unfueled := a.Module{
		Types:   []a.Type{void},
		Imports: []a.Import{{Module: fuel.Namespace, Name: fuel.TickName}},
		Funcs:   []a.Func{{Export: "a", Body: []byte{a.OpLoop, a.Void, a.OpBr, 0, a.OpEnd, a.OpEnd}}},
	}.Encode()
	if err := terminates(context.Background(), unfueled, time.Second); err == nil || !strings.Contains(err.Error(), "no fuel") {
		t.Fatalf("err = %v, want the loop reported", err)
	}
	res, err := fuel.Instrument(unfueled)
	if err != nil {
		t.Fatal(err)
	}
	if err := terminates(context.Background(), res.Wasm, time.Second); err != nil {
		t.Fatalf("the instrumented loop: %v", err)
	}
}
