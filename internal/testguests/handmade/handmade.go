// Package handmade builds hostile guest modules that no Go compiler
// emits, byte by byte: the constructs of issue 18 that once broke the
// sandbox. Each is a complete ABI guest (it exports every required
// function), so it reaches the host as a real module would, through
// `baton-runner sync --module`.
package handmade

import (
	"github.com/baton-runner/baton-runner/abi"
	a "github.com/baton-runner/baton-runner/internal/wasmasm"
)

// guest returns an ABI guest whose baton_metadata runs metadata (a body
// of type () -> i32) and whose other exports return 0.
func guest(m a.Module, metadata []byte) a.Module {
	ret := uint32(len(m.Types))
	m.Types = append(m.Types, a.Type{Results: []byte{a.I32}})
	m.Funcs = append(m.Funcs, a.Func{Type: ret, Body: metadata, Export: abi.ExportMetadata})
	for _, name := range []string{abi.ExportValidate, abi.ExportListResources, abi.ExportListEntitlements, abi.ExportListGrants} {
		m.Funcs = append(m.Funcs, a.Func{Type: ret, Body: []byte{a.OpI32Const, 0, a.OpEnd}, Export: name})
	}
	return m
}

// TypedBlockLoop spins in baton_metadata, in a loop inside a block typed
// (ref null 125): a typed reference, which wazero reads as two LEB128
// numbers and a one-byte reader as a type index, then taking the heap
// type for a SIMD load whose immediates swallow the loop opcode.
func TypedBlockLoop() []byte {
	types := make([]a.Type, 126) // type 125 exists
	for i := range types {
		types[i] = a.Type{Params: []byte{a.I32}}
	}
	body := []byte{
		a.OpBlock, a.RefNull, 0xfd, 0x00, // block (result (ref null 125)); 125 as a signed LEB128
		a.OpLoop, a.Void, a.OpBr, 0, a.OpEnd,
		a.OpUnreachable, a.OpEnd,
		a.OpDrop, a.OpI32Const, 0, a.OpEnd,
	}
	return guest(a.Module{Types: types}, body).Encode()
}

// TableGrow grows a funcref table by entries in baton_metadata: 8 bytes
// of host memory an entry, zeroed, outside the guest's linear memory.
func TableGrow(entries uint32) []byte {
	body := append([]byte{a.OpRefNull, a.Funcref, a.OpI32Const}, s32(entries)...)
	body = append(body, a.PrefixMisc, a.MiscTableGrow, 0, a.OpDrop, a.OpI32Const, 0, a.OpEnd)
	return guest(a.Module{Tables: []a.Table{{Min: 1}}}, body).Encode()
}

// TableDeclared declares a funcref table of entries, which wazero
// allocates (8 bytes an entry) for every instance.
func TableDeclared(entries uint32) []byte {
	return guest(a.Module{Tables: []a.Table{{Min: entries}}}, []byte{a.OpI32Const, 0, a.OpEnd}).Encode()
}

// StartSleeps has a start function that sleeps an hour in WASI
// poll_oneoff: it would run while the module is instantiated, before any
// call and its deadline.
func StartSleeps() []byte {
	m := a.Module{
		Types: []a.Type{
			{Params: []byte{a.I32, a.I32, a.I32, a.I32}, Results: []byte{a.I32}}, // poll_oneoff
			{}, // the start function
		},
		Imports: []a.Import{{Module: "wasi_snapshot_preview1", Name: "poll_oneoff", Type: 0}},
		Memory:  &a.Table{Min: 1},
	}
	// One clock subscription at 0 (userdata, tag 0: clock, clock id 0,
	// timeout at 24), events at 64.
	sleep := append([]byte{a.OpI32Const, 24, a.OpI64Const}, a.S64(3600e9)...)
	sleep = append(sleep, a.OpI64Store, 3, 0)
	for _, arg := range []uint32{0, 64, 1, 128} { // poll_oneoff(in, out, 1 subscription, nevents)
		sleep = append(append(sleep, a.OpI32Const), s32(arg)...)
	}
	sleep = append(sleep, a.OpCall, 0, a.OpDrop, a.OpEnd)
	m.Funcs = append(m.Funcs, a.Func{Type: 1, Body: sleep})
	start := uint32(1) // after the import
	m.Start = &start
	return guest(m, []byte{a.OpI32Const, 0, a.OpEnd}).Encode()
}

// s32 is v as a signed LEB128 number (i32.const's immediate).
func s32(v uint32) []byte { return a.S64(int64(int32(v))) }

// MetadataLoops spins in baton_metadata, which Compile calls: a module
// the rewriter accepts, whose loop has fuel.
func MetadataLoops() []byte {
	return guest(a.Module{}, []byte{a.OpLoop, a.Void, a.OpBr, 0, a.OpEnd, a.OpUnreachable, a.OpEnd}).Encode()
}
