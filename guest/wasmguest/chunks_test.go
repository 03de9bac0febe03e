package wasmguest

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// TestChunksRoundTrip moves every length from 0 to 40 through a fake
// kernel block and checks that reads stay inside it and byte loads are
// used only for blocks shorter than a word.
func TestChunksRoundTrip(t *testing.T) {
	for n := range 41 {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i*7 + 1)
		}
		// The block as the kernel holds it: rounded up by output, exact
		// for input.
		block := make([]byte, (n+7)&^7)
		writeChunks(src, func(off int, v uint64) { binary.LittleEndian.PutUint64(block[off:], v) })
		if !bytes.Equal(block[:n], src) || !bytes.Equal(block[n:], make([]byte, len(block)-n)) {
			t.Fatalf("n=%d: block %v, want %v then zeros", n, block, src)
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
