package fuel_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/baton-runner/baton-runner/host/sandbox/internal/fuel"
	a "github.com/baton-runner/baton-runner/internal/wasmasm"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// TestMergesDataSegments: the instrumented module's memory after
// instantiation is the original's, byte for byte, and segments are
// joined only where that is sure.
func TestMergesDataSegments(t *testing.T) {
	pages := &a.Table{Min: 4}
	tiny := func(n, stride int) [][]byte { // n one-byte segments stride bytes apart
		var segs [][]byte
		for i := range n {
			segs = append(segs, a.ActiveData(int32(i*stride), []byte{byte(i + 1)}))
		}
		return segs
	}
	for _, tc := range []struct {
		name     string
		data     [][]byte
		segments int // in the instrumented module
	}{
		{"gaps up to 64 bytes are filled", [][]byte{
			a.ActiveData(16, []byte("ab")), a.ActiveData(40, []byte("cd")), // 22 apart
			a.ActiveData(200, []byte("ef")), a.ActiveData(266, []byte("gh")), // 158, then 64
		}, 2},
		{"segments out of order", [][]byte{a.ActiveData(300, []byte("z")), a.ActiveData(260, []byte("y")), a.ActiveData(250, []byte("x"))}, 1},
		{"overlapping: the later one wins", [][]byte{a.ActiveData(10, []byte("abcd")), a.ActiveData(12, []byte("XY"))}, 2},
		{"out of bounds", [][]byte{a.ActiveData(16, []byte("ab")), a.ActiveData(4<<16-6, []byte("0123456789"))}, 2},
		{"a passive segment", [][]byte{a.ActiveData(16, []byte("ab")), {1, 2, 'c', 'd'}, a.ActiveData(20, []byte("ef"))}, 3},
		{"an offset in a longer encoding", [][]byte{a.ActiveData(16, []byte("ab")), {0, a.OpI32Const, 0x94, 0x00, a.OpEnd, 2, 'c', 'd'}}, 2},
		{"tiny segments far apart", tiny(100, 66), 100},
		{"more zeros than twice the section and a page", tiny(3000, 60), 3000},
		{"tiny segments close together", tiny(100, 33), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := a.Module{Memory: pages, Data: tc.data}.Encode()
			res, err := fuel.Instrument(orig)
			if err != nil {
				t.Fatal(err)
			}
			if got := dataSegments(t, res.Wasm); got != tc.segments {
				t.Errorf("%d data segments in the instrumented module, want %d", got, tc.segments)
			}
			want, wantErr := instantiatedMemory(orig)
			got, gotErr := instantiatedMemory(res.Wasm)
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("instantiating the module: %v; its instrumented copy: %v", wantErr, gotErr)
			}
			if !bytes.Equal(got, want) {
				t.Error("the instrumented module's memory differs from the module's after instantiation")
			}
		})
	}
}

// TestMergesTheGoGuestsData: a Go guest's tens of thousands of data
// segments become a few, and its memory after instantiation is the same.
func TestMergesTheGoGuestsData(t *testing.T) {
	orig, err := wasmbuild.Read("guest/segment/wasm")
	if err != nil {
		t.Fatal(err)
	}
	res, err := fuel.Instrument(orig)
	if err != nil {
		t.Fatal(err)
	}
	before, after := dataSegments(t, orig), dataSegments(t, res.Wasm)
	if before < 10_000 || after > 20 {
		t.Errorf("%d data segments, %d after instrumenting: want tens of thousands, then at most 20", before, after)
	}
	want, err := instantiatedMemory(orig)
	if err != nil {
		t.Fatal(err)
	}
	got, err := instantiatedMemory(res.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the instrumented guest's memory differs from the guest's after instantiation")
	}
}

// instantiatedMemory instantiates wasm, with every import a function that
// does nothing and no start function called, and returns its memory (nil
// if it has none). A module that imports anything else fails.
func instantiatedMemory(wasm []byte) (mem []byte, err error) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithMemoryLimitPages(fuzzMemoryPages))
	defer r.Close(ctx)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("wazero panicked: %v", p)
		}
	}()
	cm, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return nil, err
	}
	hosts := map[string]wazero.HostModuleBuilder{}
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		if hosts[mod] == nil {
			hosts[mod] = r.NewHostModuleBuilder(mod)
		}
		hosts[mod].NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(context.Context, api.Module, []uint64) {}), f.ParamTypes(), f.ResultTypes()).
			Export(name)
	}
	for _, h := range hosts {
		if _, err := h.Instantiate(ctx); err != nil {
			return nil, err
		}
	}
	m, err := r.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		return nil, err
	}
	if m.Memory() == nil {
		return nil, nil
	}
	b, _ := m.Memory().Read(0, m.Memory().Size())
	return bytes.Clone(b), nil
}

// dataSegments returns the count of wasm's data section.
func dataSegments(t *testing.T, wasm []byte) int {
	t.Helper()
	for p := 8; p < len(wasm); {
		id := wasm[p]
		size, n := binary.Uvarint(wasm[p+1:])
		body := wasm[p+1+n : p+1+n+int(size)]
		if id == 11 {
			count, _ := binary.Uvarint(body)
			return int(count)
		}
		p += 1 + n + int(size)
	}
	return 0
}
