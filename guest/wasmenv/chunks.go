package wasmenv

import "encoding/binary"

// readChunks reads n bytes with load64 (8 bytes at an offset) and, for an
// input shorter than 8 bytes only, load8. The tail of a longer input is
// read as the 8 bytes that end at n, overlapping the last full chunk, so
// nothing past the block is ever read.
func readChunks(n int, load64 func(off int) uint64, load8 func(off int) byte) []byte {
	buf := make([]byte, n)
	if n < 8 {
		for i := range n {
			buf[i] = load8(i)
		}
		return buf
	}
	i := 0
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], load64(i))
	}
	if i < n {
		binary.LittleEndian.PutUint64(buf[n-8:], load64(n-8))
	}
	return buf
}

// writeChunks passes b to store64 as little-endian 8-byte words and, for
// b shorter than 8 bytes only, to store8 byte by byte. The tail of a
// longer b is written as the 8 bytes that end at len(b), overlapping the
// last full word with the same bytes, so the block can be exactly len(b)
// long: the host reads a block's length as its size.
func writeChunks(b []byte, store64 func(off int, v uint64), store8 func(off int, v byte)) {
	n := len(b)
	if n < 8 {
		for i := range n {
			store8(i, b[i])
		}
		return
	}
	i := 0
	for ; i+8 <= n; i += 8 {
		store64(i, binary.LittleEndian.Uint64(b[i:]))
	}
	if i < n {
		store64(n-8, binary.LittleEndian.Uint64(b[n-8:]))
	}
}
