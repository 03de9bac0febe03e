//go:build wasip1

package wasmenv

// The extism kernel functions this package moves bytes with. go-pdk uses
// the same ones but copies a block's last len%8 bytes one at a time with
// the byte-wide loads and stores, and the extism host serves each of those
// by looking the kernel export up afresh, which costs a fresh wasm call
// stack per byte. Here only blocks under 8 bytes use them (chunks.go).

//go:wasmimport extism:host/env input_length
func kernelInputLength() uint64

//go:wasmimport extism:host/env input_load_u64
func kernelInputLoadU64(offset uint64) uint64

//go:wasmimport extism:host/env input_load_u8
func kernelInputLoadU8(offset uint64) uint32

//go:wasmimport extism:host/env alloc
func kernelAlloc(length uint64) uint64

//go:wasmimport extism:host/env free
func kernelFree(offset uint64)

//go:wasmimport extism:host/env length
func kernelLength(offset uint64) uint64

//go:wasmimport extism:host/env load_u64
func kernelLoadU64(offset uint64) uint64

//go:wasmimport extism:host/env load_u8
func kernelLoadU8(offset uint64) uint32

//go:wasmimport extism:host/env store_u64
func kernelStoreU64(offset uint64, v uint64)

//go:wasmimport extism:host/env store_u8
func kernelStoreU8(offset uint64, v uint32)

//go:wasmimport extism:host/env output_set
func kernelOutputSet(offset uint64, length uint64)

// Input returns the input of the running export.
func Input() []byte {
	n := int(kernelInputLength())
	return readChunks(n, func(off int) uint64 { return kernelInputLoadU64(uint64(off)) },
		func(off int) byte { return byte(kernelInputLoadU8(uint64(off))) })
}

// Output makes b the output of the running export.
func Output(b []byte) {
	off := writeBlock(b)
	kernelOutputSet(off, uint64(len(b)))
}

// writeBlock copies b into a new kernel block of exactly len(b) bytes.
func writeBlock(b []byte) uint64 {
	off := kernelAlloc(uint64(len(b)))
	writeChunks(b, func(i int, v uint64) { kernelStoreU64(off+uint64(i), v) },
		func(i int, v byte) { kernelStoreU8(off+uint64(i), uint32(v)) })
	return off
}

// readBlock copies the kernel block at off out and frees it.
func readBlock(off uint64) []byte {
	defer kernelFree(off)
	n := int(kernelLength(off))
	return readChunks(n, func(i int) uint64 { return kernelLoadU64(off + uint64(i)) },
		func(i int) byte { return byte(kernelLoadU8(off + uint64(i))) })
}
