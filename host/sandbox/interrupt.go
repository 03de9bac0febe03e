package sandbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	extism "github.com/extism/go-sdk"
)

// Stopping a guest that overruns its deadline.
//
// wazero can only stop running wasm at points where the code checks for
// it. Its own option (RuntimeConfig.WithCloseOnContextDone) puts a check
// at every loop header, and each check leaves the native code for Go and
// comes back. Go compiles every function body to a wasm loop (its resume
// dispatch) and most of its jumps to a branch back to that loop, so a Go
// guest paid that round trip on nearly every call and jump: about two
// thirds of the guest's CPU (see BENCHMARKS.md).
//
// Instead, Compile rewrites the module (instrument) so that every loop
// header, and the entry of every function that can call another before it
// enters a loop, decrements a fuel counter held in a new global and, once
// every fuelPerTick decrements, calls the host function tick. tick fails
// the call when the call's context is done; wazero turns that panic into a
// trap. The guest still reaches the host at least every fuelPerTick
// iterations or calls, so the Go scheduler can stop it for a garbage
// collection, and a spinning guest stops shortly after its deadline.
// (wazero's own check, at loop headers only, misses a guest that recurses
// without looping: 2^n calls from a function that calls itself twice.)
//
// The rewriter reads every construct of the features the runtime enables
// (wasm 2.0, SIMD included) exactly as wazero's decoder does, and refuses
// anything else; Compile refuses a module it cannot rewrite, rather than
// running it without fuel. Reading every count against the bytes behind
// it, it is also the host's guard against modules that declare more than
// they hold: wazero v1.12.0 allocates declared counts before reading them.

const (
	interruptNamespace = "baton:sandbox"
	interruptTick      = "tick"
	// fuelPerTick is the number of loop iterations between two ticks: a
	// host call costs about as much as a few hundred iterations of a tight
	// loop, so this keeps the ticks below 1% of a spinning guest's time
	// and the delay after a deadline far under a millisecond.
	fuelPerTick = 4096
)

// errDeadline is the panic of tick; the caller classifies the failure by
// its own contexts, so the text only shows in traces.
var errDeadline = errors.New("call context done")

// tickFunction is the host side of the instrumentation: it stops the guest
// once the call's context is done.
func tickFunction() extism.HostFunction {
	f := extism.NewHostFunctionWithStack(interruptTick, func(ctx context.Context, _ *extism.CurrentPlugin, _ []uint64) {
		if ctx.Err() != nil {
			panic(errDeadline)
		}
	}, nil, nil)
	f.SetNamespace(interruptNamespace)
	return f
}

// errUnsupported makes instrument give up on a module, which Compile then
// refuses.
var errUnsupported = errors.New("unsupported module construct")

// WebAssembly section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
)

// maxLocals bounds the locals of one function, as browsers' engines do:
// wazero allocates the declared total up front, up to 4 GiB of it.
const maxLocals = 50_000

// instrument returns wasm with a tick every fuelPerTick loop iterations
// and calls (see above, and needsEntryCheck), or an error when the module
// holds something outside wasm 2.0 (exceptions, threads, GC types, tail
// calls) or is malformed. The
// function index space gains one import, the tick, at the end of the
// imported functions, so every index of a function defined in the module
// moves up by one, in the "name" custom section too (see names).
func instrument(wasm []byte) (out []byte, err error) {
	defer func() {
		// A truncated or malformed module makes the reader index past the
		// end: one more module refused.
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: %v", errUnsupported, r)
		}
	}()
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" || binary.LittleEndian.Uint32(wasm[4:8]) != 1 {
		return nil, fmt.Errorf("%w: not a version 1 module", errUnsupported)
	}
	type section struct {
		id   byte
		body []byte
	}
	var secs []section
	r := reader{b: wasm, p: 8}
	for r.p < len(r.b) {
		id := r.byte()
		if id > secDataCount {
			return nil, fmt.Errorf("%w: section %d", errUnsupported, id)
		}
		n := int(r.u32())
		secs = append(secs, section{id, r.bytes(n)})
	}

	// First pass: the counts the rewrite depends on.
	var importedFuncs, importedGlobals, definedGlobals, types uint32
	var haveImport, haveGlobal bool
	voidType := int64(-1)
	for _, s := range secs {
		sr := reader{b: s.body}
		switch s.id {
		case secType:
			types = sr.u32()
			for i := range types {
				if sr.byte() != 0x60 {
					return nil, fmt.Errorf("%w: non-function type", errUnsupported)
				}
				params := sr.u32()
				for range params {
					sr.valType()
				}
				results := sr.u32()
				for range results {
					sr.valType()
				}
				if params == 0 && results == 0 && voidType < 0 {
					voidType = int64(i)
				}
			}
		case secImport:
			haveImport = true
			for range sr.u32() {
				sr.name()
				sr.name()
				switch kind := sr.byte(); kind {
				case 0x00:
					sr.u32()
					importedFuncs++
				case 0x01:
					sr.tableType()
				case 0x02:
					sr.limits()
				case 0x03:
					sr.valType()
					sr.byte()
					importedGlobals++
				default:
					return nil, fmt.Errorf("%w: import kind %#x", errUnsupported, kind)
				}
			}
		case secGlobal:
			haveGlobal = true
			definedGlobals = sr.u32()
			continue // read in the rewrite
		case secTable:
			for range sr.u32() {
				if sr.peek() == 0x40 {
					return nil, fmt.Errorf("%w: table with initialiser", errUnsupported)
				}
				sr.tableType()
			}
		default:
			continue
		}
		if sr.p != len(sr.b) {
			return nil, fmt.Errorf("%w: bytes past the end of section %d", errUnsupported, s.id)
		}
	}
	fuelGlobal := importedGlobals + definedGlobals
	tickFunc := importedFuncs
	rw := rewriter{shiftFrom: importedFuncs, fuelGlobal: fuelGlobal, tickFunc: tickFunc}

	// Loop headers are a small part of a module; the slack keeps the
	// appends from copying the module again and again.
	o := make([]byte, 0, len(wasm)+len(wasm)/4)
	o = append(o, wasm[:8]...)
	emit := func(id byte, body []byte) {
		o = append(o, id)
		o = appendU32(o, uint32(len(body)))
		o = append(o, body...)
	}
	addedType := false
	if voidType < 0 {
		voidType = int64(types)
		addedType = true
	}
	tickImport := func() []byte {
		var b []byte
		b = appendName(b, interruptNamespace)
		b = appendName(b, interruptTick)
		b = append(b, 0x00)
		return appendU32(b, uint32(voidType))
	}
	fuelDecl := func() []byte {
		b := []byte{0x7f, 0x01, 0x41}
		b = appendS32(b, fuelPerTick)
		return append(b, 0x0b)
	}
	// Sections must stay in their order; a missing import or global
	// section is created where it belongs.
	order := func(id byte) int {
		switch id {
		case secType:
			return 1
		case secImport:
			return 2
		case secFunction:
			return 3
		case secTable:
			return 4
		case secMemory:
			return 5
		case secGlobal:
			return 6
		}
		return 7
	}
	placedImport, placedGlobal, placedType := haveImport, haveGlobal, !addedType
	flushBefore := func(id byte) {
		if !placedType && order(id) > 1 {
			// A module without a type section: the tick's type is its only one.
			emit(secType, []byte{0x01, 0x60, 0x00, 0x00})
			placedType = true
		}
		if !placedImport && id != secCustom && order(id) > 2 {
			emit(secImport, append(appendU32(nil, 1), tickImport()...))
			placedImport = true
		}
		if !placedGlobal && id != secCustom && order(id) > 6 {
			emit(secGlobal, append(appendU32(nil, 1), fuelDecl()...))
			placedGlobal = true
		}
	}
	for _, s := range secs {
		if s.id != secCustom {
			flushBefore(s.id)
		}
		sr := reader{b: s.body}
		switch s.id {
		case secCustom:
			// Only the names reach wazero: it parses other custom sections
			// (DWARF) too, and no guest needs them to run.
			if name := (&reader{b: s.body}).name(); name == "name" {
				if body, ok := rw.names(s.body); ok {
					emit(s.id, body)
				}
			}
		case secType:
			if addedType {
				n := sr.u32()
				b := appendU32(nil, n+1)
				b = append(b, s.body[sr.p:]...)
				b = append(b, 0x60, 0x00, 0x00)
				emit(s.id, b)
				placedType = true
			} else {
				emit(s.id, s.body)
			}
			continue // read in the first pass
		case secImport:
			n := sr.u32()
			b := appendU32(nil, n+1)
			b = append(b, s.body[sr.p:]...)
			emit(s.id, append(b, tickImport()...))
			continue // read in the first pass
		case secGlobal:
			n := sr.u32()
			b := appendU32(nil, n+1)
			for range n {
				start := sr.p
				sr.valType()
				sr.byte()
				b = append(b, s.body[start:sr.p]...)
				b = rw.expr(b, &sr)
			}
			emit(s.id, append(b, fuelDecl()...))
		case secExport:
			n := sr.u32()
			b := appendU32(nil, n)
			for range n {
				start := sr.p
				sr.name()
				kind := sr.byte()
				b = append(b, s.body[start:sr.p]...)
				idx := sr.u32()
				if kind == 0x00 {
					idx = rw.fn(idx)
				}
				if kind == 0x03 && idx >= fuelGlobal {
					return nil, fmt.Errorf("%w: export of an undefined global", errUnsupported)
				}
				b = appendU32(b, idx)
			}
			emit(s.id, b)
		case secFunction:
			// wazero v1.12.0 indexes the type section with these before
			// checking them (a panic), and one past the end would name the
			// tick's type.
			for range sr.u32() {
				if sr.u32() >= types {
					return nil, fmt.Errorf("%w: function of an undefined type", errUnsupported)
				}
			}
			emit(s.id, s.body)
		case secMemory:
			for range sr.u32() {
				sr.limits()
			}
			emit(s.id, s.body)
		case secData:
			emit(s.id, rw.data(&sr))
		case secStart:
			emit(s.id, appendU32(nil, rw.fn(sr.u32())))
		case secElement:
			emit(s.id, rw.elements(&sr))
		case secCode:
			emit(s.id, rw.code(&sr))
		case secDataCount:
			sr.u32()
			emit(s.id, s.body)
		default:
			emit(s.id, s.body) // a table section, read in the first pass
			continue
		}
		if s.id != secCustom && sr.p != len(sr.b) {
			return nil, fmt.Errorf("%w: bytes past the end of section %d", errUnsupported, s.id)
		}
	}
	flushBefore(secCode)
	return o, nil
}

// rewriter renumbers functions and instruments loops.
type rewriter struct {
	shiftFrom  uint32 // first function index that moves up by one
	fuelGlobal uint32
	tickFunc   uint32
}

func (rw rewriter) fn(idx uint32) uint32 {
	if idx >= rw.shiftFrom {
		return idx + 1
	}
	return idx
}

// names renumbers the functions of a "name" custom section, so that the
// traps of a guest built with its names still name its functions. The
// section only labels traces: one it cannot read is dropped (ok false),
// not a reason to refuse the module.
func (rw rewriter) names(body []byte) (out []byte, ok bool) {
	defer func() {
		if recover() != nil {
			out, ok = nil, false
		}
	}()
	r := reader{b: body}
	r.name()
	out = append(out, body[:r.p]...)
	for r.p < len(r.b) {
		id := r.byte()
		sub := r.bytes(int(r.u32()))
		sr := reader{b: sub}
		switch id {
		case 1: // function names: funcidx name
			n := sr.u32()
			b := appendU32(nil, n)
			for range n {
				b = appendU32(b, rw.fn(sr.u32()))
				b = appendName(b, sr.name())
			}
			sub = b
		case 2, 3: // local and label names: funcidx, then index name pairs
			n := sr.u32()
			b := appendU32(nil, n)
			for range n {
				b = appendU32(b, rw.fn(sr.u32()))
				start := sr.p
				for range sr.u32() {
					sr.u32()
					sr.name()
				}
				b = append(b, sub[start:sr.p]...)
			}
			sub = b
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(sub)))
		out = append(out, sub...)
	}
	return out, true
}

// expr copies a constant expression up to and including its end.
func (rw rewriter) expr(b []byte, r *reader) []byte {
	for {
		op := r.peek()
		b = rw.instr(b, r)
		if op == 0x0b {
			return b
		}
	}
}

func (rw rewriter) elements(r *reader) []byte {
	n := r.u32()
	b := appendU32(nil, n)
	for range n {
		flags := r.u32()
		b = appendU32(b, flags)
		if flags > 7 {
			panic("element segment flags")
		}
		if flags&2 != 0 && flags&1 == 0 { // explicit table index
			b = appendU32(b, r.u32())
		}
		if flags&1 == 0 { // active: offset expression
			b = rw.expr(b, r)
		}
		if flags&3 != 0 { // elemkind or reftype
			b = append(b, r.byte())
		}
		count := r.u32()
		b = appendU32(b, count)
		for range count {
			if flags&4 != 0 {
				b = rw.expr(b, r)
			} else {
				b = appendU32(b, rw.fn(r.u32()))
			}
		}
	}
	return b
}

// data copies the data section, reading every segment: wazero allocates
// each segment's declared size before it reads the bytes.
func (rw rewriter) data(r *reader) []byte {
	n := r.u32()
	b := appendU32(nil, n)
	for range n {
		start := r.p
		flags := r.u32() // 0 active, 1 passive, 2 active with a memory index
		if flags > 2 {
			panic(fmt.Sprintf("data segment flags %d", flags))
		}
		if flags == 2 {
			r.u32()
		}
		b = append(b, r.b[start:r.p]...)
		if flags != 1 { // an active segment's offset
			b = rw.expr(b, r)
		}
		start = r.p
		r.bytes(int(r.u32()))
		b = append(b, r.b[start:r.p]...)
	}
	return b
}

func (rw rewriter) code(r *reader) []byte {
	n := r.u32()
	b := appendU32(make([]byte, 0, len(r.b)+len(r.b)/4), n)
	var body []byte
	for range n {
		size := int(r.u32())
		end := r.p + size
		fr := reader{b: r.b[:end], p: r.p}
		body = body[:0]
		locals := uint64(0)
		for range fr.u32() { // local declarations
			locals += uint64(fr.u32())
			fr.valType()
		}
		if locals > maxLocals {
			panic(fmt.Sprintf("%d locals in one function", locals))
		}
		// Only calls, ref.func and loops change; the bytes between them
		// are copied in runs.
		body = append(body, r.b[r.p:fr.p]...)
		if needsEntryCheck(fr) {
			body = rw.fuelCheck(body)
		}
		run := fr.p
		for fr.p < end {
			switch fr.peek() {
			case 0x03, 0x10, 0x12, 0x23, 0x24, 0xd2:
				body = append(body, fr.b[run:fr.p]...)
				body = rw.instr(body, &fr)
				run = fr.p
			default:
				skipInstr(&fr)
			}
		}
		body = append(body, fr.b[run:end]...)
		r.p = end
		b = appendU32(b, uint32(len(body)))
		b = append(b, body...)
	}
	return b
}

// needsEntryCheck reports whether a function body (r at its first
// instruction) needs fuel at its entry as well as at its loops: wasm
// without loops still runs without end through recursion that doubles at
// each level, and every cycle of calls passes the entry of a function
// that calls. A body that opens with a loop pays at that loop's header
// already, before it can call anything (Go's functions all do).
func needsEntryCheck(r reader) bool {
	if r.peek() == 0x03 {
		return false
	}
	for r.p < len(r.b) {
		switch r.peek() {
		case 0x10, 0x11, 0x12, 0x13: // call, call_indirect, return_call(_indirect)
			return true
		}
		skipInstr(&r)
	}
	return false
}

// instr copies one instruction, renumbering function references and
// instrumenting loop headers.
func (rw rewriter) instr(b []byte, r *reader) []byte {
	start := r.p
	op := r.byte()
	switch {
	case op == 0x10 || op == 0x12 || op == 0xd2: // call, return_call, ref.func
		b = append(b, op)
		return appendU32(b, rw.fn(r.u32()))
	case op == 0x03: // loop
		r.blockType()
		b = append(b, r.b[start:r.p]...)
		return rw.fuelCheck(b)
	case op == 0x23 || op == 0x24: // global.get, global.set
		// The fuel global takes the first index past the module's own, so
		// an (invalid) reference to that index would become one to the
		// fuel, letting the guest refill it and never tick.
		if r.u32() >= rw.fuelGlobal {
			panic("reference to a global the module does not define")
		}
	default:
		r.p = start
		skipInstr(r)
	}
	return append(b, r.b[start:r.p]...)
}

// skipInstr reads past one instruction.
func skipInstr(r *reader) {
	switch op := r.byte(); {
	case op >= 0x02 && op <= 0x04: // block, loop, if
		r.blockType()
	case op <= 0x01, op == 0x05, op == 0x0b, op == 0x0f, op == 0x1a, op == 0x1b, op == 0xd1:
	case op == 0x0c || op == 0x0d: // br, br_if
		r.u32()
	case op == 0x0e: // br_table
		for range r.u32() + 1 {
			r.u32()
		}
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select t*
		for range r.u32() {
			r.valType()
		}
	case op >= 0x20 && op <= 0x26: // locals, globals, table.get/set
		r.u32()
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memArg()
	case op == 0x3f || op == 0x40 || op == 0xd2: // memory.size, memory.grow, ref.func
		r.u32()
	case op == 0x41:
		r.leb()
	case op == 0x42:
		r.leb()
	case op == 0x43:
		r.skip(4)
	case op == 0x44:
		r.skip(8)
	case op >= 0x45 && op <= 0xc4: // numeric and sign extension
	case op == 0xd0: // ref.null
		r.valType()
	case op == 0xfd: // SIMD
		// wazero reads the opcode as one byte, not as the spec's LEB128:
		// the same bytes for the opcodes that exist (a two-byte LEB128's
		// second byte, 0x01, then reads as a nop), but a padded LEB128
		// would hide instructions from a reader that followed the spec.
		switch sub := r.byte(); {
		case sub <= 0x0b, sub == 0x5c, sub == 0x5d: // loads, store, load zero
			r.memArg()
		case sub == 0x0c, sub == 0x0d: // v128.const, i8x16.shuffle
			r.skip(16)
		case sub >= 0x15 && sub <= 0x22: // extract and replace lane
			r.skip(1)
		case sub >= 0x54 && sub <= 0x5b: // load and store lane
			r.memArg()
			r.skip(1)
		}
	case op == 0xfc:
		switch sub := r.u32(); {
		case sub <= 7: // saturating truncation
		case sub == 8, sub == 10, sub == 12, sub == 14: // memory.init, memory.copy, table.init, table.copy
			r.u32()
			r.u32()
		case sub == 9, sub == 11, sub == 13, sub == 15, sub == 16, sub == 17:
			r.u32()
		default:
			panic(fmt.Sprintf("opcode 0xfc %d", sub))
		}
	default:
		panic(fmt.Sprintf("opcode %#x", op))
	}
}

// fuelCheck appends, at the top of a loop body:
//
//	global.get $fuel; i32.const 1; i32.sub; global.set $fuel
//	global.get $fuel; i32.eqz
//	if; i32.const fuelPerTick; global.set $fuel; call $tick; end
//
// It leaves the operand stack as it found it, so it fits any loop type.
func (rw rewriter) fuelCheck(b []byte) []byte {
	g := appendU32(nil, rw.fuelGlobal)
	b = append(append(b, 0x23), g...)
	b = append(b, 0x41, 0x01, 0x6b, 0x24)
	b = append(b, g...)
	b = append(append(b, 0x23), g...)
	b = append(b, 0x45, 0x04, 0x40, 0x41)
	b = appendS32(b, fuelPerTick)
	b = append(append(b, 0x24), g...)
	b = append(b, 0x10)
	b = appendU32(b, rw.tickFunc)
	return append(b, 0x0b)
}

// reader decodes the binary format; it panics past the end of its bytes
// (instrument recovers).
type reader struct {
	b []byte
	p int
}

func (r *reader) byte() byte {
	c := r.b[r.p]
	r.p++
	return c
}

func (r *reader) peek() byte { return r.b[r.p] }

func (r *reader) skip(n int) {
	if n < 0 || r.p+n > len(r.b) {
		panic("truncated")
	}
	r.p += n
}

func (r *reader) bytes(n int) []byte {
	start := r.p
	r.skip(n)
	return r.b[start:r.p]
}

// leb skips one LEB128 number of up to 10 bytes.
func (r *reader) leb() {
	for i := 0; ; i++ {
		if i == 10 {
			panic("LEB128 too long")
		}
		if r.byte()&0x80 == 0 {
			return
		}
	}
}

func (r *reader) u32() uint32 {
	var v uint64
	for shift := 0; ; shift += 7 {
		if shift > 28 {
			panic("u32 too long")
		}
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			break
		}
	}
	if v > 1<<32-1 {
		panic("u32 overflow")
	}
	return uint32(v)
}

func (r *reader) name() string { return string(r.bytes(int(r.u32()))) }

// valType reads a single-byte value type; the typed references of the GC
// proposal (0x63, 0x64 and a heap type) are not handled.
func (r *reader) valType() {
	switch c := r.byte(); c {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
	default:
		panic(fmt.Sprintf("value type %#x", c))
	}
}

func (r *reader) blockType() {
	switch c := r.peek(); {
	case c == 0x40:
		r.p++
	case c >= 0x6f && c <= 0x7f:
		r.valType()
	default:
		r.leb() // type index as s33
	}
}

func (r *reader) limits() {
	flags := r.byte()
	if flags > 1 {
		panic(fmt.Sprintf("limits flags %#x", flags))
	}
	r.u32()
	if flags == 1 {
		r.u32()
	}
}

func (r *reader) tableType() {
	r.valType()
	r.limits()
}

// memArg reads alignment (with the multi-memory index flag) and offset.
func (r *reader) memArg() {
	align := r.u32()
	if align&0x40 != 0 {
		r.u32()
	}
	r.leb()
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}
