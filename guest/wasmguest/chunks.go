package wasmguest

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

// writeChunks passes b to store64 as little-endian 8-byte words, the last
// one padded with zeros.
func writeChunks(b []byte, store64 func(off int, v uint64)) {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		store64(i, binary.LittleEndian.Uint64(b[i:]))
	}
	if i < len(b) {
		var last [8]byte
		copy(last[:], b[i:])
		store64(i, binary.LittleEndian.Uint64(last[:]))
	}
}
