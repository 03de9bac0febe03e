package wasmenv

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// TestChunksRoundTrip moves every length from 0 to 40 through a fake
// kernel block of exactly that length and checks that reads and writes
// stay inside it and byte transfers are used only for blocks shorter than
// a word.
func TestChunksRoundTrip(t *testing.T) {
	for n := range 41 {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i*7 + 1)
		}
		block := make([]byte, n)
		bytesStored := 0
		writeChunks(src, func(off int, v uint64) {
			if off < 0 || off+8 > n {
				t.Fatalf("n=%d: 8-byte store at %d leaves the block", n, off)
			}
			binary.LittleEndian.PutUint64(block[off:], v)
		}, func(off int, v byte) {
			bytesStored++
			block[off] = v
		})
		if !bytes.Equal(block, src) {
			t.Fatalf("n=%d: block %v, want %v", n, block, src)
		}
		if n >= 8 && bytesStored > 0 {
			t.Errorf("n=%d: %d single-byte stores", n, bytesStored)
		}
		bytesLoaded := 0
		got := readChunks(n, func(off int) uint64 {
			if off < 0 || off+8 > n {
				t.Fatalf("n=%d: 8-byte load at %d leaves the block", n, off)
			}
			return binary.LittleEndian.Uint64(src[off:])
		}, func(off int) byte {
			bytesLoaded++
			return src[off]
		})
		if !bytes.Equal(got, src) {
			t.Fatalf("n=%d: read %v, want %v", n, got, src)
		}
		if n >= 8 && bytesLoaded > 0 {
			t.Errorf("n=%d: %d single-byte loads", n, bytesLoaded)
		}
	}
}
