// Package fuel rewrites a guest module so that a call can be stopped at
// its deadline, and refuses every module it does not fully understand.
//
// wazero can only stop running wasm at points where the code checks for
// it. Its own option (RuntimeConfig.WithCloseOnContextDone) puts a check
// at every loop header, and each check leaves the native code for Go and
// comes back. Go compiles every function body to a wasm loop (its resume
// dispatch) and most of its jumps to a branch back to that loop, so a Go
// guest paid that round trip on nearly every call and jump: about two
// thirds of its CPU. Its check also misses a guest that recurses without
// looping (2^n calls from a function that calls itself twice).
//
// Instrument instead decrements a fuel counter, a global added to the
// module, at every loop header and at the entry of every function that
// does not open with a loop, and once every PerTick decrements calls the
// host function Namespace.TickName, which fails the call when its context
// is done. The guest still reaches the host at least every PerTick
// iterations or calls, so a spinning guest stops shortly after its
// deadline.
//
// What it accepts is an allow-list, not "whatever wazero accepts": the
// constructs of WebAssembly 2.0 (SIMD included) that the Go, TinyGo and
// Rust wasm32-wasip1 toolchains emit, each read exactly as wazero v1.12.0
// reads it. Everything else is refused with a *RefusedError naming the
// section and byte offset: newer proposals (typed references, exceptions,
// tail calls, threads, GC, tags), a start section (it would run at
// instantiation, outside any call's deadline), table.grow (host memory
// outside the budget), counts that the bytes behind them cannot hold
// (wazero allocates declared counts before reading them), and function,
// type or global indices the module does not have. Reading a construct
// differently from wazero once hid a loop from the fuel: a block typed
// (ref null 125) was read as one byte, and the loop that followed as its
// immediate. docs/RATIONALE.md says why an allow-list.
//
// Result.InstanceBytes is what an instance's tables, element and data
// segments, globals and functions cost the host, for its memory budget.
//
// The rewrite also joins data segments that lie a few bytes apart where
// the result is provably the same memory (mergeData): Go's linker writes
// one for every run of non-zero bytes, and wazero keeps each one decoded
// for the module's life and again in every instance, ~5 MiB of host heap
// for the Segment guest's 47,000 segments (1.2 MiB of data).
package fuel

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
)

const (
	// Namespace and TickName name the host function the fuel checks call.
	Namespace = "baton:sandbox"
	TickName  = "tick"
	// PerTick is the number of loop iterations or calls between two
	// ticks: a host call costs about as much as a few hundred iterations
	// of a tight loop, so this keeps the ticks below 1% of a spinning
	// guest's time and the delay after a deadline far under a millisecond.
	PerTick = 4096
)

//go:embed *.go
var source embed.FS

// Fingerprint identifies this rewriter: a hash of its own source, so a
// cache of its output is invalidated by any change to what it accepts or
// writes, with no version constant to remember to bump.
var Fingerprint = func() string {
	h := sha256.New()
	files, _ := fs.Glob(source, "*.go")
	for _, name := range files { // sorted, so the hash is stable
		b, _ := source.ReadFile(name)
		h.Write([]byte(name))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}()
