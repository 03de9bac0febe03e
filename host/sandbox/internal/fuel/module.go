package fuel

import "encoding/binary"

// Result is an instrumented module.
type Result struct {
	Wasm []byte
	// InstanceBytes is the host memory each instance of the module holds
	// outside its linear memory, as wazero v1.12.0 lays it out: tables
	// (8 bytes an entry, allocated at their declared minimum), passive
	// element segments (8 bytes an entry), globals, functions and data
	// segments (their headers). The host charges it to the instance's
	// memory budget before instantiating, so none of it is free.
	InstanceBytes uint64
}

// What an instance's structures cost the host, per item (wazero v1.12.0:
// a table or element entry is a uintptr; a GlobalInstance is about 48
// bytes behind its pointer; a compiled function's entry is 24 bytes; a
// data instance is a slice header). Rounded up.
const (
	costTableEntry  = 8
	costElemEntry   = 8
	costSegment     = 24
	costGlobal      = 64
	costFunction    = 32
	maxLocals       = 50_000 // per function, as browsers' engines bound it: wazero allocates the declared total
	minSectionBytes = 1
)

// section is one section of the module, its body not yet read.
type section struct {
	id   byte
	body reader
}

// module is what the rewrite needs to know about the whole module before
// it rewrites any section.
type module struct {
	types            uint32
	voidType         int64 // index of a () -> () type, or -1
	importedFuncs    uint32
	definedFuncs     uint32
	importedGlobals  uint32
	definedGlobals   uint32
	instanceBytes    uint64
	haveDataCount    bool
	dataCountSegment uint32
	memories         uint32 // imported and defined
	importedMemory   bool
	memoryPages      uint32 // the first memory's minimum
}

// fuelGlobal is the index of the added fuel counter: past the module's
// own globals, so nothing in the module can name it.
func (m *module) fuelGlobal() uint32 { return m.importedGlobals + m.definedGlobals }

// tickFunc is the index of the added tick import: after the imported
// functions, so every function the module defines moves up by one.
func (m *module) tickFunc() uint32 { return m.importedFuncs }

// fn renumbers a function index, refusing one the module does not have:
// unchecked, 2^32-1 would wrap to the first import.
func (m *module) fn(r *reader, idx uint32) uint32 {
	if uint64(idx) >= uint64(m.importedFuncs)+uint64(m.definedFuncs) {
		r.fail("function index %d: the module has %d functions", idx, m.importedFuncs+m.definedFuncs)
		return 0
	}
	if idx >= m.importedFuncs {
		return idx + 1
	}
	return idx
}

// Instrument returns the module with a fuel check at every loop header
// and at the entry of every function that can call before it loops, or a
// *RefusedError for a module outside what it reads (see the package doc).
func Instrument(wasm []byte) (Result, error) {
	secs, err := split(wasm)
	if err != nil {
		return Result{}, err
	}
	m := &module{voidType: -1}
	for _, s := range secs {
		if err := m.scan(s); err != nil {
			return Result{}, err
		}
	}
	out, err := m.rewrite(wasm[:8], secs, len(wasm))
	if err != nil {
		return Result{}, err
	}
	return Result{Wasm: out, InstanceBytes: m.instanceBytes + costGlobal}, nil // + the fuel counter
}

// rank orders the sections as the specification requires: the data count
// section sits between the element and code sections.
var rank = [...]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secGlobal: 6,
	secExport: 7, secStart: 8, secElement: 9, secDataCount: 10, secCode: 11, secData: 12,
}

// split reads the header and the section list. Each section appears at
// most once and in order; custom sections may appear anywhere.
func split(wasm []byte) ([]section, error) {
	r := reader{b: wasm}
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" || binary.LittleEndian.Uint32(wasm[4:8]) != 1 {
		return nil, &RefusedError{Section: "module", Reason: "not a WebAssembly version 1 module (\\0asm, 1)"}
	}
	r.p = 8
	var secs []section
	last := 0
	for !r.done() && r.ok() {
		start := r.p
		id := r.byte()
		body := r.sub(int(r.u32()))
		switch {
		case !r.ok():
		case id == secStart:
			r.failAt(start, "a start function runs while the module is instantiated, outside any call and its deadline; "+
				"export an initialiser instead, as WASI reactors do (_initialize)")
		case int(id) >= len(rank):
			r.failAt(start, "section id %d is outside WebAssembly 2.0 (tags, or a newer proposal)", id)
		case id != secCustom && rank[id] <= last:
			r.failAt(start, "%s section out of order or repeated", sectionName(id))
		case id != secCustom:
			last = rank[id]
		}
		secs = append(secs, section{id: id, body: body})
	}
	if !r.ok() {
		return nil, &RefusedError{Section: "module", Offset: r.err.offset, Reason: r.err.reason}
	}
	return secs, nil
}

// scan is the first pass: the counts the rewrite depends on, and the
// instance's cost of what no later pass reads.
func (m *module) scan(s section) error {
	r := s.body
	switch s.id {
	case secType:
		m.scanTypes(&r)
	case secImport:
		m.scanImports(&r)
	case secFunction:
		m.scanFunctions(&r)
	case secTable:
		m.scanTables(&r)
	case secMemory:
		m.scanMemories(&r)
	case secGlobal:
		m.definedGlobals = r.count(3) // read whole in the rewrite
		return refused(s.id, &r)
	case secDataCount:
		m.haveDataCount = true
		m.dataCountSegment = r.u32()
	default:
		return nil
	}
	if r.ok() && !r.done() {
		r.fail("bytes past the end of the section")
	}
	return refused(s.id, &r)
}

// refused turns a reader's failure into the module's RefusedError.
func refused(id byte, r *reader) error {
	if r.ok() {
		return nil
	}
	return &RefusedError{Section: sectionName(id), Offset: r.err.offset, Reason: r.err.reason}
}

// rewrite is the second pass: every section read again and written out,
// with the tick import, its type and the fuel global added where they
// belong when the module has no section to add them to.
func (m *module) rewrite(header []byte, secs []section, size int) ([]byte, error) {
	// Loop headers are a small part of a module; the slack keeps the
	// appends from copying it again and again.
	o := make([]byte, 0, size+size/4)
	o = append(o, header...)
	emit := func(id byte, body []byte) {
		o = append(o, id)
		o = appendU32(o, uint32(len(body)))
		o = append(o, body...)
	}
	addType := m.voidType < 0
	if addType {
		m.voidType = int64(m.types)
	}
	added := map[byte]bool{}
	// addMissing adds the sections the rewrite needs before the first
	// section that must follow them.
	addMissing := func(before int) {
		for _, need := range []struct {
			id   byte
			body func() []byte
		}{
			{secType, func() []byte { return append(appendU32(nil, 1), voidFuncType...) }},
			{secImport, func() []byte { return append(appendU32(nil, 1), m.tickImport()...) }},
			{secGlobal, func() []byte { return append(appendU32(nil, 1), fuelGlobalDecl()...) }},
		} {
			if !added[need.id] && rank[need.id] < before && (need.id != secType || addType) {
				emit(need.id, need.body())
				added[need.id] = true
			}
		}
	}
	for _, s := range secs {
		r := s.body
		var body []byte
		switch s.id {
		case secCustom:
			if b, ok := m.names(r); ok {
				emit(s.id, b)
			}
			continue
		case secType:
			body = m.typeSection(&r, addType)
		case secImport:
			body = m.importSection(&r)
		case secGlobal:
			body = m.globalSection(&r)
		case secExport:
			body = m.exportSection(&r)
		case secElement:
			body = m.elementSection(&r)
		case secCode:
			body = m.codeSection(&r)
		case secData:
			body = m.dataSection(&r)
		default: // read whole in scan
			body = r.b
			r.p = len(r.b)
		}
		if r.ok() && !r.done() {
			r.fail("bytes past the end of the section")
		}
		if err := refused(s.id, &r); err != nil {
			return nil, err
		}
		addMissing(rank[s.id])
		added[s.id] = true
		emit(s.id, body)
	}
	addMissing(len(rank)) // past every section
	return o, nil
}

// voidFuncType is the type of the tick: () -> ().
var voidFuncType = []byte{formFunc, 0x00, 0x00}

func (m *module) tickImport() []byte {
	b := appendName(nil, Namespace)
	b = appendName(b, TickName)
	b = append(b, kindFunc)
	return appendU32(b, uint32(m.voidType))
}

func fuelGlobalDecl() []byte {
	b := []byte{typeI32, 0x01, opI32Const} // mutable i32 = PerTick
	b = appendS32(b, PerTick)
	return append(b, opEnd)
}
