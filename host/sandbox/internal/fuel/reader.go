package fuel

import "fmt"

// reader decodes the binary format. Its first failure sticks: it records
// where and why, then every read returns zero and the reader is at its
// end, so the loops over a failed section end at once and the section's
// reader turns the failure into a RefusedError.
type reader struct {
	b    []byte
	p    int
	base int // offset of b[0] in the module, for errors
	err  *failure
}

type failure struct {
	offset int
	reason string
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = &failure{offset: r.base + r.p, reason: fmt.Sprintf(format, args...)}
	}
	r.p = len(r.b)
}

// failAt records a failure at an offset already passed (the start of
// the construct being refused).
func (r *reader) failAt(p int, format string, args ...any) {
	if r.err == nil {
		r.p = p
		r.fail(format, args...)
	}
}

func (r *reader) ok() bool    { return r.err == nil }
func (r *reader) done() bool  { return r.p >= len(r.b) }
func (r *reader) offset() int { return r.base + r.p }

// sub returns a reader over the next n bytes and moves past them.
func (r *reader) sub(n int) reader {
	start := r.p
	r.skip(n)
	return reader{b: r.b[start:r.p], base: r.base + start}
}

func (r *reader) byte() byte {
	if r.p >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[r.p]
	r.p++
	return c
}

func (r *reader) peek() byte {
	if r.p >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	return r.b[r.p]
}

func (r *reader) skip(n int) {
	if n < 0 || n > len(r.b)-r.p {
		r.fail("%d bytes declared, %d left", n, len(r.b)-r.p)
		return
	}
	r.p += n
}

func (r *reader) bytes(n int) []byte {
	start := r.p
	r.skip(n)
	return r.b[start:r.p]
}

// leb reads past one LEB128 number of at most maxBytes bytes and returns
// its value's low 64 bits; its length is the same for any reader that
// follows the continuation bits, wazero's included.
func (r *reader) leb(maxBytes int) (v uint64, last byte, n int) {
	for shift := 0; ; shift += 7 {
		if n == maxBytes {
			r.fail("LEB128 number longer than %d bytes", maxBytes)
			return 0, 0, n
		}
		c := r.byte()
		n++
		if !r.ok() {
			return 0, 0, n
		}
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		if c&0x80 == 0 {
			return v, c, n
		}
	}
}

func (r *reader) u32() uint32 {
	v, _, _ := r.leb(5)
	if v > 1<<32-1 {
		r.fail("u32 out of range")
		return 0
	}
	return uint32(v)
}

// s33 reads a block type's signed 33-bit number.
func (r *reader) s33() int64 {
	v, last, n := r.leb(5)
	if last&0x40 != 0 && n*7 < 64 { // sign-extend
		v |= ^uint64(0) << (n * 7)
	}
	return int64(v)
}

// count reads a vector's length, refusing one that the bytes left cannot
// hold at minSize bytes an item: wazero allocates a declared length
// before it reads the items, and a count within the bytes also bounds
// every loop over the items.
func (r *reader) count(minSize int) uint32 {
	start := r.p
	n := r.u32()
	if left := len(r.b) - r.p; uint64(n)*uint64(minSize) > uint64(left) {
		r.failAt(start, "%d items declared, the %d bytes left hold at most %d", n, left, left/minSize)
		return 0
	}
	return n
}

func (r *reader) name() string { return string(r.bytes(int(r.u32()))) }

// valType reads a value type of WebAssembly 2.0. The typed references of
// newer proposals (0x63, 0x64 and a heap type) and exnref are refused:
// wazero reads them in more bytes than one.
func (r *reader) valType() byte {
	switch c := r.byte(); c {
	case typeI32, typeI64, typeF32, typeF64, typeV128, typeFuncref, typeExternref:
		return c
	default:
		r.failAt(r.p-1, "value type %#x is outside WebAssembly 2.0", c)
		return 0
	}
}

// refType reads funcref or externref.
func (r *reader) refType() {
	if c := r.byte(); c != typeFuncref && c != typeExternref {
		r.failAt(r.p-1, "reference type %#x is outside WebAssembly 2.0", c)
	}
}

// blockType reads a block type as wazero does (a signed 33-bit number)
// and accepts the empty type, one value type, or the index of a type the
// module defines. Everything else is refused, typed references first: a
// one-byte reading of (ref null 125) let a loop after it go unseen.
func (r *reader) blockType(types uint32) {
	start := r.p
	switch v := r.s33(); {
	case !r.ok():
	case v == blockEmpty, v == blockI32, v == blockI64, v == blockF32, v == blockF64,
		v == blockV128, v == blockFuncref, v == blockExternref:
	case v >= 0 && v < int64(types):
	case v == blockRefNull || v == blockRef:
		r.failAt(start, "block type (ref …), a typed reference of the GC and function-references proposals, is outside WebAssembly 2.0")
	case v < 0:
		r.failAt(start, "block type %#x is outside WebAssembly 2.0", byte(v&0x7f))
	default:
		r.failAt(start, "block type %d names no type of the module (it has %d)", v, types)
	}
}

// limits reads a table's or memory's limits and returns the minimum.
func (r *reader) limits() uint32 {
	flags := r.byte()
	if flags > 1 {
		r.failAt(r.p-1, "limits flags %#x (shared or 64-bit memories) are outside WebAssembly 2.0", flags)
		return 0
	}
	lo := r.u32()
	if flags == 1 {
		if hi := r.u32(); hi < lo {
			r.fail("maximum %d below minimum %d", hi, lo)
		}
	}
	return lo
}

// memArg reads a load's or store's alignment and offset. wazero reads no
// memory index (multi-memory is not enabled) and refuses an alignment
// of 32 or more.
func (r *reader) memArg() {
	if align := r.u32(); align >= 32 {
		r.fail("alignment 2^%d", align)
	}
	r.u32()
}

// zeroByte reads a reserved memory index: one byte, zero, as wazero
// requires.
func (r *reader) zeroByte() {
	if c := r.byte(); c != 0 {
		r.failAt(r.p-1, "reserved byte %#x is not zero", c)
	}
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
