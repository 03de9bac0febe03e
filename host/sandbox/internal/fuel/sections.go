package fuel

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
// instance's memory budget bound what they cost.
func scanMemories(r *reader) {
	for range r.count(2) {
		r.limits()
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
	m.instanceBytes += uint64(n) * costSegment
	b := appendU32(nil, n)
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
		if flags != 1 {
			b = m.constExpr(b, r)
		}
		start = r.p
		r.bytes(int(r.u32()))
		b = append(b, r.b[start:r.p]...)
	}
	return b
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
