package fuel

import "fmt"

// codeSection rewrites every function body: a fuel check at each loop
// header and, unless the body opens with a loop, at its entry; function
// indices renumbered. The bytes between the changes are copied in runs.
func (m *module) codeSection(r *reader) []byte {
	n := r.count(2)
	if n != m.definedFuncs {
		r.fail("%d function bodies for %d functions", n, m.definedFuncs)
		return nil
	}
	b := appendU32(make([]byte, 0, len(r.b)+len(r.b)/4), n)
	var body []byte
	for i := range n {
		fr := r.sub(int(r.u32()))
		body = m.function(body[:0], &fr)
		if !fr.ok() {
			r.err = fr.err
			r.err.reason = fmt.Sprintf("function %d: %s", m.importedFuncs+i, r.err.reason)
			return nil
		}
		b = appendU32(b, uint32(len(body)))
		b = append(b, body...)
	}
	return b
}

func (m *module) function(body []byte, r *reader) []byte {
	locals := uint64(0)
	for range r.count(2) {
		locals += uint64(r.u32())
		r.valType()
	}
	if locals > maxLocals {
		r.fail("%d locals, more than %d", locals, maxLocals)
		return nil
	}
	body = append(body, r.b[:r.p]...)
	// A function without loops still runs without end through recursion
	// that doubles at each level; every cycle of calls passes the entry
	// of a function. One that opens with a loop pays at its header before
	// it can call anything (Go's functions all do).
	if r.peek() != opLoop {
		body = m.fuelCheck(body)
	}
	run := r.p
	for r.ok() && !r.done() {
		start := r.p
		switch op := r.byte(); op {
		case opCall, opRefFunc:
			idx := m.fn(r, r.u32())
			body = append(body, r.b[run:start]...)
			body = appendU32(append(body, op), idx)
			run = r.p
		case opLoop:
			r.blockType(m.types)
			body = m.fuelCheck(append(body, r.b[run:r.p]...))
			run = r.p
		default:
			m.skip(r, op)
		}
	}
	return append(body, r.b[run:]...)
}

// skip reads the immediates of op (already read). It accepts the
// instructions of WebAssembly 2.0 that the fuel checks stay correct for,
// reading each exactly as wazero v1.12.0's validator does, and refuses
// the rest: opcodes of later proposals (exceptions, tail calls, threads,
// typed references), and table.grow, which would let a guest allocate
// host memory outside its budget.
func (m *module) skip(r *reader, op byte) {
	switch {
	case op == opBlock, op == opLoop, op == opIf:
		r.blockType(m.types)
	case op == opUnreachable, op == opNop, op == opElse, op == opEnd, op == opReturn,
		op == opDrop, op == opSelect, op == opRefIsNull,
		op >= opFirstNumeric && op <= opLastNumeric:
	case op == opBr, op == opBrIf, op == opLocalGet, op == opLocalSet, op == opLocalTee,
		op == opTableGet, op == opTableSet:
		r.u32()
	case op == opBrTable:
		for range r.count(1) {
			r.u32()
		}
		r.u32() // the default
	case op == opCall, op == opRefFunc:
		m.fn(r, r.u32())
	case op == opCallIndirect:
		if t := r.u32(); t >= m.types {
			r.fail("call_indirect of type %d: the module has %d types", t, m.types)
		}
		r.u32() // table
	case op == opSelectTyped:
		if c := r.byte(); c != 1 {
			r.failAt(r.p-1, "select with %d types", c)
		}
		r.valType()
	case op == opGlobalGet, op == opGlobalSet:
		m.globalIndex(r)
	case op >= opFirstLoadStore && op <= opLastLoadStore:
		r.memArg()
	case op == opMemorySize, op == opMemoryGrow:
		r.zeroByte()
	case op == opI32Const:
		r.leb(5)
	case op == opI64Const:
		r.leb(10)
	case op == opF32Const:
		r.skip(4)
	case op == opF64Const:
		r.skip(8)
	case op == opRefNull:
		r.refType()
	case op == prefixMisc:
		m.skipMisc(r)
	case op == prefixSIMD:
		skipSIMD(r)
	default:
		r.failAt(r.p-1, "opcode %#x is outside WebAssembly 2.0 (exceptions, tail calls, threads, GC)", op)
	}
}

func (m *module) skipMisc(r *reader) {
	start := r.p - 1
	switch sub := r.u32(); {
	case sub <= miscLastTruncSat:
	case sub == miscMemoryInit:
		r.u32() // data segment
		r.zeroByte()
	case sub == miscDataDrop, sub == miscElemDrop, sub == miscTableSize, sub == miscTableFill:
		r.u32()
	case sub == miscMemoryCopy:
		r.zeroByte()
		r.zeroByte()
	case sub == miscMemoryFill:
		r.zeroByte()
	case sub == miscTableInit, sub == miscTableCopy:
		r.u32()
		r.u32()
	case sub == miscTableGrow:
		r.failAt(start, "table.grow is refused: a table's entries are host memory, and a table can only cost what its declared minimum does")
	default:
		r.failAt(start, "opcode 0xfc %d is outside WebAssembly 2.0", sub)
	}
}

// skipSIMD reads a SIMD instruction's immediates. wazero reads its opcode
// as one byte, not as the LEB128 number of the specification: the same
// bytes for the opcodes that exist (a two-byte LEB128's second byte, 0x01,
// then reads as a nop), but a padded LEB128 would hide instructions from
// a reader that followed the specification. Opcodes that do not exist
// are left to wazero, which refuses them; none of 0x80 and above has
// immediates.
func skipSIMD(r *reader) {
	switch sub := r.byte(); {
	case sub <= simdLastLoad, sub == simdLoad32Zero, sub == simdLoad64Zero:
		r.memArg()
	case sub == simdConst, sub == simdShuffle:
		r.skip(16)
	case sub >= simdFirstLane && sub <= simdLastLane:
		r.skip(1)
	case sub >= simdFirstLoadLane && sub <= simdLastLoadLane:
		r.memArg()
		r.skip(1)
	}
}

// fuelCheck appends:
//
//	global.get $fuel; i32.const 1; i32.sub; global.set $fuel
//	global.get $fuel; i32.eqz
//	if; i32.const PerTick; global.set $fuel; call $tick; end
//
// It leaves the operand stack as it found it, so it fits any loop type.
func (m *module) fuelCheck(b []byte) []byte {
	g := appendU32(nil, m.fuelGlobal())
	b = append(append(b, opGlobalGet), g...)
	b = append(b, opI32Const, 0x01, opI32Sub, opGlobalSet)
	b = append(b, g...)
	b = append(append(b, opGlobalGet), g...)
	b = append(b, opI32Eqz, opIf, 0x40, opI32Const) // 0x40: the empty block type
	b = appendS32(b, PerTick)
	b = append(append(b, opGlobalSet), g...)
	b = append(b, opCall)
	b = appendU32(b, m.tickFunc())
	return append(b, opEnd)
}
