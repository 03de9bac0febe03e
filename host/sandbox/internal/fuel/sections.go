package fuel

import (
	"cmp"
	"slices"
)

// The sections other than code and names, in their order.

func (m *module) scanTypes(r *reader) {
	m.types = r.count(3)
	for i := range m.types {
		if form := r.byte(); form != formFunc {
			r.failAt(r.p-1, "type %d: form %#x is not a function type (GC types are outside WebAssembly 2.0)", i, form)
			return
		}
		params := r.count(1)
		for range params {
			r.valType()
		}
		results := r.count(1)
		for range results {
			r.valType()
		}
		if params == 0 && results == 0 && m.voidType < 0 {
			m.voidType = int64(i)
		}
	}
}

// typeSection adds the tick's type when the module has no () -> ().
func (m *module) typeSection(r *reader, addType bool) []byte {
	n := r.u32()
	types := r.b[r.p:]
	r.p = len(r.b) // read in scan
	if !addType {
		return r.b
	}
	b := appendU32(nil, n+1)
	b = append(b, types...)
	return append(b, voidFuncType...)
}

func (m *module) scanImports(r *reader) {
	for range r.count(4) {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case kindFunc:
			if t := r.u32(); t >= m.types {
				r.fail("imported function of type %d: the module has %d types", t, m.types)
			}
			m.importedFuncs++
		case kindTable:
			r.refType()
			r.limits() // the exporter's table: no cost here
		case kindMemory:
			r.limits()
			m.memories++
			m.importedMemory = true
		case kindGlobal:
			r.valType()
			mutability(r)
			m.importedGlobals++
		default:
			r.failAt(r.p-1, "import kind %#x is outside WebAssembly 2.0", kind)
		}
	}
}

func mutability(r *reader) {
	if c := r.byte(); c > 1 {
		r.failAt(r.p-1, "global mutability %#x", c)
	}
}

// importSection appends the tick after the module's imports.
func (m *module) importSection(r *reader) []byte {
	n := r.u32()
	b := appendU32(nil, n+1)
	b = append(b, r.b[r.p:]...)
	r.p = len(r.b) // read in scan
	return append(b, m.tickImport()...)
}

// scanFunctions checks each function's type index: wazero v1.12.0
// indexes the type section with it before checking it (a panic), and one
// past the end would name the tick's added type.
func (m *module) scanFunctions(r *reader) {
	m.definedFuncs = r.count(1)
	m.instanceBytes += uint64(m.definedFuncs+m.importedFuncs) * costFunction
	for i := range m.definedFuncs {
		if t := r.u32(); t >= m.types {
			r.fail("function %d of type %d: the module has %d types", i, t, m.types)
		}
	}
}

// scanTables charges each table's declared minimum, which wazero
// allocates for every instance. No table can grow (table.grow is
// refused), so the minimum is all a table ever costs.
func (m *module) scanTables(r *reader) {
	for range r.count(3) {
		if r.peek() == 0x40 {
			r.fail("table with an initialiser expression is outside WebAssembly 2.0")
			return
		}
		r.refType()
		m.instanceBytes += uint64(r.limits()) * costTableEntry
	}
}

// scanMemories reads the memories; the runtime's page limit and each
// instance's memory budget bound what they cost. The first one's minimum
// is the size data segments are placed in.
func (m *module) scanMemories(r *reader) {
	for range r.count(2) {
		pages := r.limits()
		if m.memories == 0 {
			m.memoryPages = pages
		}
		m.memories++
	}
}

// globalSection copies the globals, checking their initialisers, and
// appends the fuel counter.
func (m *module) globalSection(r *reader) []byte {
	n := r.count(3)
	m.instanceBytes += uint64(n) * costGlobal
	b := appendU32(nil, n+1)
	for range n {
		start := r.p
		r.valType()
		mutability(r)
		b = append(b, r.b[start:r.p]...)
		b = m.constExpr(b, r)
	}
	return append(b, fuelGlobalDecl()...)
}

// exportSection renumbers exported functions.
func (m *module) exportSection(r *reader) []byte {
	n := r.count(3)
	b := appendU32(nil, n)
	for range n {
		start := r.p
		r.name()
		kind := r.byte()
		b = append(b, r.b[start:r.p]...)
		idx := r.u32()
		switch kind {
		case kindFunc:
			idx = m.fn(r, idx)
		case kindGlobal:
			if idx >= m.fuelGlobal() {
				r.fail("export of global %d, which the module does not have", idx)
			}
		case kindTable, kindMemory:
		default:
			r.failAt(r.p-1, "export kind %#x is outside WebAssembly 2.0", kind)
		}
		b = appendU32(b, idx)
	}
	return b
}

// Element segment flags (bit 0: passive or declarative, bit 1: explicit
// table index or declarative, bit 2: expressions instead of indices).
const (
	elemPassiveOrDeclarative = 1
	elemTableOrDeclarative   = 2
	elemExpressions          = 4
)

// elementSection renumbers the functions of the element segments and
// charges the passive ones, which every instance keeps.
func (m *module) elementSection(r *reader) []byte {
	n := r.count(2)
	b := appendU32(nil, n)
	for range n {
		flags := r.u32()
		if flags > 7 {
			r.failAt(r.p-1, "element segment flags %d", flags)
			return nil
		}
		b = appendU32(b, flags)
		active := flags&elemPassiveOrDeclarative == 0
		if active && flags&elemTableOrDeclarative != 0 {
			b = appendU32(b, r.u32()) // table index
		}
		if active {
			b = m.constExpr(b, r)
		}
		if flags&3 != 0 { // an element kind (0: funcref) or a reference type
			start := r.p
			if flags&elemExpressions != 0 {
				r.refType()
			} else if c := r.byte(); c != 0 {
				r.failAt(start, "element kind %#x", c)
			}
			b = append(b, r.b[start:r.p]...)
		}
		count := r.count(1)
		if flags&3 == elemPassiveOrDeclarative { // passive
			m.instanceBytes += costSegment + uint64(count)*costElemEntry
		}
		b = appendU32(b, count)
		for range count {
			if flags&elemExpressions != 0 {
				b = m.constExpr(b, r)
			} else {
				b = appendU32(b, m.fn(r, r.u32()))
			}
		}
	}
	return b
}

// dataSection copies the data section, reading every segment: wazero
// allocates each segment's declared size before it reads the bytes.
func (m *module) dataSection(r *reader) []byte {
	n := r.count(2)
	if m.haveDataCount && n != m.dataCountSegment {
		r.fail("%d data segments, the data count section says %d", n, m.dataCountSegment)
		return nil
	}
	b := appendU32(nil, n)
	segs := make([]dataSegment, 0, n)
	for range n {
		start := r.p
		flags := r.u32() // 0 active, 1 passive, 2 active with a memory index
		switch flags {
		case 0, 1:
		case 2:
			r.u32()
		default:
			r.failAt(start, "data segment flags %d", flags)
			return nil
		}
		b = append(b, r.b[start:r.p]...)
		seg := dataSegment{offset: -1}
		if flags != 1 {
			exprStart := len(b)
			b = m.constExpr(b, r)
			seg.offset = constI32(b[exprStart:])
		}
		start = r.p
		seg.init = r.bytes(int(r.u32()))
		b = append(b, r.b[start:r.p]...)
		segs = append(segs, seg)
	}
	if merged, ok := m.mergeData(segs, len(r.b)); ok {
		segs, b = merged, appendU32(nil, uint32(len(merged)))
		for _, s := range merged {
			b = append(b, 0, opI32Const)
			b = appendS32(b, int32(uint32(s.offset)))
			b = append(b, opEnd)
			b = appendU32(b, uint32(len(s.init)))
			b = append(b, s.init...)
		}
	}
	m.instanceBytes += uint64(len(segs)) * costSegment
	return b
}

// dataSegment is a segment's placement (-1 unless an i32.const offset in
// the module's memory) and bytes.
type dataSegment struct {
	offset int64
	init   []byte
}

// constI32 returns the unsigned offset of a constant expression that is
// one i32.const in its shortest encoding (what the merge writes back),
// or -1.
func constI32(expr []byte) int64 {
	r := reader{b: expr}
	if r.byte() != opI32Const {
		return -1
	}
	v, last, n := r.leb(5)
	if last&0x40 != 0 && n*7 < 64 {
		v |= ^uint64(0) << (n * 7)
	}
	canonical := append([]byte{opI32Const}, appendS32(nil, int32(v))...)
	if r.byte() != opEnd || !r.done() || !r.ok() || string(expr[:len(expr)-1]) != string(canonical) {
		return -1
	}
	return int64(uint32(v))
}

// mergeGap is the longest run of zeros merged into the segments around
// it: shorter than what a segment costs the host as wazero v1.12.0
// decodes and instantiates it (a DataSegment, its two slices, a
// DataInstance per instance: about 100 bytes), and never a whole page
// the module's own segments leave untouched.
const mergeGap = 64

// mergeData joins segments that lie within mergeGap bytes of each other
// into one, filling the gaps with the zeros the memory holds there
// anyway. Go's linker writes a segment for every run of non-zero bytes:
// 47,000 segments of 2 bytes (median) for the Segment guest, each
// decoded, kept and copied per instance by wazero, ~5 MiB of host heap
// for its 1.2 MiB of data. The merge keeps what instantiation does
// exactly, so it applies only where the result is the same memory: no
// data count section (without it no instruction can name a segment),
// the module's own single memory, every segment active at an i32.const
// offset, inside the memory's minimum size, and none overlapping
// another. It is refused (ok false) when it would write more than twice
// the section's size and a page: a module of many tiny segments far apart
// must not make the host allocate far more than its own bytes.
func (m *module) mergeData(segs []dataSegment, sectionBytes int) (merged []dataSegment, ok bool) {
	if len(segs) < 2 || m.haveDataCount || m.importedMemory || m.memories != 1 {
		return nil, false
	}
	limit := int64(m.memoryPages) << 16
	for _, s := range segs {
		if s.offset < 0 || s.offset+int64(len(s.init)) > limit {
			return nil, false
		}
	}
	sorted := slices.SortedStableFunc(slices.Values(segs), func(a, b dataSegment) int { return cmp.Compare(a.offset, b.offset) })
	total := 0
	for i, s := range sorted {
		if i > 0 {
			prev := sorted[i-1]
			end := prev.offset + int64(len(prev.init))
			if s.offset < end {
				return nil, false // overlapping: the later one wins, in section order
			}
			if gap := s.offset - end; gap <= mergeGap {
				total += int(gap)
			}
		}
		total += len(s.init)
	}
	if total > 2*sectionBytes+1<<16 {
		return nil, false
	}
	for _, s := range sorted {
		last := len(merged) - 1
		if last >= 0 {
			end := merged[last].offset + int64(len(merged[last].init))
			if gap := s.offset - end; gap <= mergeGap {
				merged[last].init = append(append(merged[last].init, make([]byte, gap)...), s.init...)
				continue
			}
		}
		merged = append(merged, dataSegment{offset: s.offset, init: slices.Clip(s.init)})
	}
	return merged, true
}

// constExpr copies a constant expression up to its end, renumbering
// ref.func. Only the instructions WebAssembly 2.0 allows in one are read.
func (m *module) constExpr(b []byte, r *reader) []byte {
	for r.ok() {
		start := r.p
		switch op := r.byte(); op {
		case opEnd:
			return append(b, op)
		case opI32Const, opI64Const, opF32Const, opF64Const, opRefNull:
			m.skip(r, op)
		case opGlobalGet:
			m.globalIndex(r)
		case opRefFunc:
			b = append(b, op)
			b = appendU32(b, m.fn(r, r.u32()))
			continue
		case prefixSIMD:
			if r.byte() != simdConst {
				r.failAt(start, "SIMD instruction other than v128.const in a constant expression")
			}
			r.skip(16)
		default:
			r.failAt(start, "instruction %#x in a constant expression", op)
		}
		b = append(b, r.b[start:r.p]...)
	}
	return b
}

// globalIndex reads a global.get or global.set index. The fuel counter
// takes the first index past the module's own, so an (invalid)
// reference to it would let the guest refill its fuel and never tick.
func (m *module) globalIndex(r *reader) {
	if idx := r.u32(); idx >= m.fuelGlobal() {
		r.fail("global %d: the module has %d globals", idx, m.fuelGlobal())
	}
}
