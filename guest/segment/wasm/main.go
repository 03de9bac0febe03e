//go:build wasip1

// Command wasm is the Segment connector as a WebAssembly guest module
// (bin/segment.wasm): package segment's logic bound to the ABI exports by
// package wasmguest. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o segment.wasm ./guest/segment/wasm
package main

import (
	"github.com/baton-runner/baton-runner/guest/segment"
	"github.com/baton-runner/baton-runner/guest/wasmguest"
)

func init() { wasmguest.Register(segment.New()) }

// main is never called in a c-shared (reactor) module; the host calls
// _initialize and then the exports.
func main() {}
