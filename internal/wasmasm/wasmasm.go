// Package wasmasm assembles small WebAssembly modules from structs, for
// tests of how the host treats modules that no compiler would emit (as
// wazero's tests do with their own encoder). Function bodies are bytes,
// written with the opcode constants below; everything around them (the
// sections, their sizes and counts) is encoded here.
package wasmasm

// Value types and the empty block type.
const (
	I32       = 0x7f
	I64       = 0x7e
	Funcref   = 0x70
	Void      = 0x40
	RefNull   = 0x63 // a typed reference: (ref null heaptype)
	KindFunc  = 0x00
	KindTable = 0x01
)

// Opcodes the tests use.
const (
	OpUnreachable = 0x00
	OpBlock       = 0x02
	OpLoop        = 0x03
	OpIf          = 0x04
	OpEnd         = 0x0b
	OpBr          = 0x0c
	OpBrIf        = 0x0d
	OpBrTable     = 0x0e
	OpCall        = 0x10
	OpDrop        = 0x1a
	OpLocalGet    = 0x20
	OpGlobalGet   = 0x23
	OpGlobalSet   = 0x24
	OpI32Const    = 0x41
	OpI64Const    = 0x42
	OpI32Sub      = 0x6b
	OpI64Store    = 0x37
	OpRefNull     = 0xd0
	PrefixMisc    = 0xfc
	MiscTableGrow = 0x0f
)

// Type is a function type.
type Type struct{ Params, Results []byte }

// Import is an imported function.
type Import struct {
	Module, Name string
	Type         uint32
}

// Func is a function the module defines; Export, if set, exports it.
type Func struct {
	Type   uint32
	Locals []byte // one local per byte, of that value type
	Body   []byte // the instructions, with the final end
	Export string
}

// Table is a funcref table.
type Table struct {
	Min uint32
	Max *uint32
}

// Module is a module's contents; Encode lays it out.
type Module struct {
	Types   []Type
	Imports []Import
	Tables  []Table
	Memory  *Table   // limits in pages
	Globals [][]byte // each: type, mutability, initialiser with its end
	Funcs   []Func
	Start   *uint32
	Data    [][]byte // each: a data segment as encoded (ActiveData writes one)
}

// ActiveData is a data segment placing init at offset in memory 0.
func ActiveData(offset int32, init []byte) []byte {
	b := append([]byte{0, OpI32Const}, S64(int64(offset))...)
	b = append(b, OpEnd)
	return append(append(b, U32(uint32(len(init)))...), init...)
}

// Encode returns the module's binary.
func (m Module) Encode() []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	section := func(id byte, n int, items ...[]byte) {
		if n == 0 {
			return
		}
		body := U32(uint32(n))
		for _, it := range items {
			body = append(body, it...)
		}
		b = append(b, id)
		b = append(b, U32(uint32(len(body)))...)
		b = append(b, body...)
	}
	var items [][]byte
	for _, t := range m.Types {
		it := append([]byte{0x60}, vec(t.Params)...)
		items = append(items, append(it, vec(t.Results)...))
	}
	section(1, len(items), items...)
	items = nil
	for _, imp := range m.Imports {
		it := append(name(imp.Module), name(imp.Name)...)
		items = append(items, append(append(it, KindFunc), U32(imp.Type)...))
	}
	section(2, len(items), items...)
	items = nil
	for _, f := range m.Funcs {
		items = append(items, U32(f.Type))
	}
	section(3, len(items), items...)
	items = nil
	for _, t := range m.Tables {
		items = append(items, append([]byte{Funcref}, limits(t)...))
	}
	section(4, len(items), items...)
	if m.Memory != nil {
		section(5, 1, limits(*m.Memory))
	}
	section(6, len(m.Globals), m.Globals...)
	items = nil
	for i, f := range m.Funcs {
		if f.Export != "" {
			items = append(items, append(append(name(f.Export), KindFunc), U32(uint32(len(m.Imports)+i))...))
		}
	}
	section(7, len(items), items...)
	if m.Start != nil {
		b = append(b, 8)
		b = append(b, U32(uint32(len(U32(*m.Start))))...)
		b = append(b, U32(*m.Start)...)
	}
	items = nil
	for _, f := range m.Funcs {
		body := U32(uint32(len(f.Locals)))
		for _, l := range f.Locals {
			body = append(body, 1, l)
		}
		body = append(body, f.Body...)
		items = append(items, append(U32(uint32(len(body))), body...))
	}
	section(10, len(items), items...)
	section(11, len(m.Data), m.Data...)
	return b
}

// U32 is v as an unsigned LEB128 number.
func U32(v uint32) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// S64 is v as a signed LEB128 number (i64.const's immediate).
func S64(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func vec(types []byte) []byte { return append(U32(uint32(len(types))), types...) }

func name(s string) []byte { return append(U32(uint32(len(s))), s...) }

func limits(t Table) []byte {
	if t.Max == nil {
		return append([]byte{0}, U32(t.Min)...)
	}
	return append(append([]byte{1}, U32(t.Min)...), U32(*t.Max)...)
}
