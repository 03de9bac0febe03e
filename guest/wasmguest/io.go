//go:build wasip1

package wasmguest

// The extism kernel functions this package moves its input and output
// with. go-pdk's Input and Output use the same ones but copy a block's
// last len%8 bytes one at a time with input_load_u8 and store_u8, and the
// extism host serves each of those by looking the kernel export up afresh,
// which costs a fresh wasm call stack per byte. Only the 8-byte transfers,
// which extism serves directly on the memory, are used here.
//
//go:wasmimport extism:host/env input_length
func kernelInputLength() uint64

//go:wasmimport extism:host/env input_load_u64
func kernelInputLoadU64(offset uint64) uint64

//go:wasmimport extism:host/env input_load_u8
func kernelInputLoadU8(offset uint64) uint32

//go:wasmimport extism:host/env alloc
func kernelAlloc(length uint64) uint64

//go:wasmimport extism:host/env store_u64
func kernelStoreU64(offset uint64, v uint64)

//go:wasmimport extism:host/env output_set
func kernelOutputSet(offset uint64, length uint64)

// input returns the call's input.
func input() []byte {
	n := int(kernelInputLength())
	return readChunks(n, func(off int) uint64 { return kernelInputLoadU64(uint64(off)) },
		func(off int) byte { return byte(kernelInputLoadU8(uint64(off))) })
}

// output makes b the call's output. The block is allocated rounded up to a
// whole number of 8-byte words so that it can be filled with store_u64
// alone; output_set names its exact length.
func output(b []byte) {
	n := len(b)
	off := kernelAlloc(uint64((n + 7) &^ 7))
	writeChunks(b, func(i int, v uint64) { kernelStoreU64(off+uint64(i), v) })
	kernelOutputSet(off, uint64(n))
}
