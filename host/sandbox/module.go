// Package sandbox runs connector guests: WebAssembly modules that speak the
// ABI of package abi, on extism's go-sdk over a wazero runtime configured for
// untrusted code.
//
// A Module is compiled once (with a persistent compilation cache) and shared;
// each tenant gets a Pool of instances of it, bound to that tenant's egress
// client. The guest's only ways out of the sandbox are the host functions
// defined in hostfuncs.go: it has no filesystem, environment, sockets or
// extism HTTP, its one argument is the program name "guest", and its
// clocks and randomness are real.
//
// Everything a guest can make the host pay for is bounded:
//
//   - Time: every call runs under Config.CallTimeout, which stops it in a
//     tight loop or a deep recursion (fuel ticks at loop headers and
//     function entries, interrupt.go) and also while it sleeps in
//     poll_oneoff (the instance's nanosleep wakes at the call's end). A call its
//     caller cancelled fails as KindCanceled, not as the guest's timeout.
//   - Memory: Config.MemoryLimitMiB caps each instance's guest and extism
//     kernel memory together (memory.go).
//   - Output: Config.MaxOutputBytes and Config.MaxOutputValues are
//     checked, without decoding, before the caller decodes the document.
//   - Text: trap texts and error_set messages in CallErrors are clipped to
//     abi.MaxTextBytes, and so is every guest log line.
//   - Logs: one budget per Pool (tenant), charged per line as the host
//     writes it and refilled hourly (logs.go).
//
// Any trap, exit, timeout, cancellation or ABI violation discards the
// instance; the Pool creates a fresh one for the next call.
package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/abi"
)

// Defaults for Config's zero values.
const (
	DefaultMemoryLimitMiB = 256
	DefaultCallTimeout    = 2 * time.Minute
	DefaultMaxLogBytes    = 1 << 20
	// DefaultMaxOutputBytes: a Segment page (100 items, the API allows at
	// most 1000) is tens of KiB and well under 1 MiB; 8 MiB leaves ample
	// headroom while keeping what one call's output costs the host to
	// decode small (see DefaultMaxOutputValues).
	DefaultMaxOutputBytes = 8 << 20
	// DefaultMaxOutputValues: a legitimate page has at most 1000 items of
	// about 10 values each; 50,000 is five times that. The worst document
	// we know under both defaults (empty resources plus one long escaped
	// string) costs 37 MiB of heap to decode into abi documents, against
	// 63 MiB at 100,000 values (TestWorstOutputDecodeCost).
	DefaultMaxOutputValues = 50_000
)

// Config configures the compilation of a guest module and the limits every
// instance of it runs under.
type Config struct {
	// Wasm is the module's binary.
	Wasm []byte
	// CacheDir holds wazero's compilation cache; "" disables the
	// persistent cache (every process then compiles from scratch).
	CacheDir string
	// MemoryLimitMiB caps the memory of an instance: its guest's linear
	// memory and the extism kernel's together.
	MemoryLimitMiB int
	// CallTimeout bounds each export call; a guest that overruns it is
	// stopped and its instance discarded.
	CallTimeout time.Duration
	// MaxOutputBytes bounds the output document of one call.
	MaxOutputBytes int
	// MaxOutputValues bounds the JSON values (objects, arrays, strings
	// including keys, numbers, literals) in the output document of one
	// call. Decoding costs the host per value far more than the value's
	// bytes cost the guest, so the output is counted before it is decoded.
	MaxOutputValues int
	// MaxLogBytes bounds what the guests of one pool (one tenant) may
	// write to stdout, stderr and the log functions together, charged as
	// the host writes it: each line costs its message (clipped to
	// abi.MaxTextBytes, as escaped in JSON) plus a fixed overhead for the
	// fields the host adds. The budget refills at MaxLogBytes per hour, so
	// a sync's guest logs are bounded by MaxLogBytes × (1 + hours); lines
	// over it are dropped and counted (Stats.LogBytesDropped).
	MaxLogBytes int
	// Logger receives guest logs and sandbox events. Nil means no logging.
	Logger *zap.Logger
}

func (c Config) withDefaults() Config {
	if c.MemoryLimitMiB <= 0 {
		c.MemoryLimitMiB = DefaultMemoryLimitMiB
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.MaxOutputBytes <= 0 {
		c.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if c.MaxOutputValues <= 0 {
		c.MaxOutputValues = DefaultMaxOutputValues
	}
	if c.MaxLogBytes <= 0 {
		c.MaxLogBytes = DefaultMaxLogBytes
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// requiredExports are the exports every ABI version 1 guest must define.
var requiredExports = []string{
	abi.ExportMetadata, abi.ExportValidate, abi.ExportListResources,
	abi.ExportListEntitlements, abi.ExportListGrants,
}

// Module is a compiled guest module, shared by every Pool made from it.
type Module struct {
	cfg      Config
	compiled *extism.CompiledPlugin
	cache    wazero.CompilationCache
	metadata abi.Metadata
	sha256   string
	// instanceBytes is what an instance holds outside its linear memories
	// (fuel.Result.InstanceBytes), charged to its memory budget.
	instanceBytes uint64
	kind          GuestKind
	sdkSchema     json.RawMessage

	closeOnce sync.Once
	closeErr  error
}

// GuestKind says which contract a guest module speaks.
type GuestKind int

const (
	// GuestABI speaks the JSON ABI of package abi (guest.Connector guests
	// such as the Segment connector).
	GuestABI GuestKind = iota
	// GuestBatonSDK is a connector written with baton-sdk's
	// connectorbuilder, served by guest/batonsdk: one export carries
	// baton-sdk's own gRPC messages (abi.ExportBatonGRPC).
	GuestBatonSDK
)

// Compile validates and compiles a guest module. It refuses anything that is
// not a WebAssembly module, lacks an export of the ABI, or reports an ABI
// version other than abi.Version.
func Compile(ctx context.Context, cfg Config) (*Module, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Wasm) < 8 || string(cfg.Wasm[:4]) != "\x00asm" {
		return nil, errors.New("guest module is not a WebAssembly binary (missing \\0asm header)")
	}
	// extism lets this variable route guest stdout/stderr straight to the
	// host's, bypassing the cap; the sandbox owns guest output.
	if _, ok := os.LookupEnv("EXTISM_ENABLE_WASI_OUTPUT"); ok {
		cfg.Logger.Warn("ignoring EXTISM_ENABLE_WASI_OUTPUT: guest output is captured and capped by the sandbox")
		_ = os.Unsetenv("EXTISM_ENABLE_WASI_OUTPUT")
	}
	// The level is process-global in extism. Debug lets guest debug logs
	// through to each instance's logger, which applies the host's level;
	// it drops extism's own trace chatter.
	extism.SetLogLevel(extism.LogLevelDebug)

	// Deadlines stop guests through the fuel checks package fuel adds;
	// a module without them could run past any deadline.
	sum := sha256.Sum256(cfg.Wasm)
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("opening compilation cache %s: %w (set --cache-dir to a writable directory)", cfg.CacheDir, err)
		}
		if err := checkCacheDir(cfg.CacheDir); err != nil {
			return nil, fmt.Errorf("refusing compilation cache: %w; set --cache-dir to a directory only this user can write", err)
		}
	}
	inst, err := instrumentCached(cfg.Wasm, sum, cfg.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("guest module refused: %w; baton-runner runs WebAssembly 2.0 modules (SIMD included) as the Go, TinyGo and Rust wasip1 toolchains emit them, without start sections, table.grow or newer proposals (threads, exceptions, tail calls, GC); see SECURITY.md", err)
	}
	limit := uint64(cfg.MemoryLimitMiB) << 20
	if inst.InstanceBytes > limit/2 {
		return nil, fmt.Errorf("guest module refused: each instance would hold %d MiB of tables, segments, globals and functions outside its linear memory, over half of the memory limit of %d MiB; raise memory_limit_mib (--memory-limit-mib) if the module is trusted", inst.InstanceBytes>>20, cfg.MemoryLimitMiB)
	}
	wasm := inst.Wasm
	rc := wazero.NewRuntimeConfig().
		// The page limit caps each memory (and refuses a module whose
		// declared minimum is over it); each instance's memory budget
		// (memory.go) caps the guest's and the kernel's together.
		WithMemoryLimitPages(uint32(cfg.MemoryLimitMiB) * 16) // 64 KiB pages
	m := &Module{cfg: cfg, instanceBytes: inst.InstanceBytes}
	// Compiled, the binary is not needed again; kept, it would hold the
	// module's size (4 MiB for the Segment guest, ~48 MiB for a baton-sdk
	// one) in the heap for the module's life.
	m.cfg.Wasm = nil
	if cfg.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("opening compilation cache %s: %w (set --cache-dir to a writable directory)", cfg.CacheDir, err)
		}
		m.cache = cache
		rc = rc.WithCompilationCache(cache)
	}
	manifest := extism.Manifest{
		Wasm: []extism.Wasm{extism.WasmData{Data: wasm, Name: "main"}},
		// No AllowedHosts: extism's own http_request refuses everything;
		// egress goes through baton_http only. Zero byte limits disable
		// extism's HTTP responses and vars, which guests have no use for.
		Memory: &extism.ManifestMemory{MaxHttpResponseBytes: 0, MaxVarBytes: 0},
	}
	compiled, err := compilePlugin(ctx, manifest, rc)
	if err != nil {
		m.closeCache(ctx)
		return nil, fmt.Errorf("compiling guest module: %w", err)
	}
	m.compiled = compiled
	m.sha256 = hex.EncodeToString(sum[:])

	if err := m.probe(ctx); err != nil {
		_ = m.Close(ctx)
		return nil, err
	}
	return m, nil
}

// probe checks the exports and ABI version on a throw-away instance.
func (m *Module) probe(ctx context.Context) error {
	inst, err := m.newInstance(ctx, newGuestLogs(m.cfg.Logger, m.cfg.MaxLogBytes), nil)
	if err != nil {
		return err
	}
	defer inst.close(ctx)
	if inst.plugin.FunctionExists(abi.ExportBatonGRPC) {
		return m.probeBatonSDK(ctx, inst)
	}
	for _, name := range requiredExports {
		if !inst.plugin.FunctionExists(name) {
			return fmt.Errorf("guest module does not export %q: it is not a baton-runner ABI v%d guest (see docs/ABI.md)", name, abi.Version)
		}
	}
	out, err := inst.call(ctx, m.cfg, abi.ExportMetadata, []byte("{}"))
	if err != nil {
		return fmt.Errorf("reading guest metadata: %w", err)
	}
	var res abi.Result[abi.Metadata]
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("reading guest metadata: malformed output: %w", err)
	}
	if res.Error != nil {
		return fmt.Errorf("reading guest metadata: %w", res.Error)
	}
	if res.OK == nil {
		return errors.New("reading guest metadata: empty result")
	}
	if res.OK.ABIVersion != abi.Version {
		return fmt.Errorf("guest module speaks ABI version %d; this host speaks version %d only: rebuild the guest against a matching baton-runner", res.OK.ABIVersion, abi.Version)
	}
	accountTypes := 0
	for _, rt := range res.OK.ResourceTypes {
		// Each declaration needs its exports; a guest declaring none of
		// the optional ones runs without them.
		needs := map[string][]string{}
		if rt.Provisionable {
			needs["provisionable"] = []string{abi.ExportGrant, abi.ExportRevoke}
		}
		if rt.CreatesAccounts {
			needs["createsAccounts"] = []string{abi.ExportCreateAccount}
			accountTypes++
		}
		if rt.Deletable {
			needs["deletable"] = []string{abi.ExportDeleteResource}
		}
		if rt.Gettable {
			needs["gettable"] = []string{abi.ExportGetResource}
		}
		for what, names := range needs {
			for _, name := range names {
				if !inst.plugin.FunctionExists(name) {
					return fmt.Errorf("guest module declares resource type %q %s but does not export %q", rt.ID, what, name)
				}
			}
		}
	}
	if accountTypes > 1 {
		return fmt.Errorf("guest module declares %d resource types createsAccounts; at most one may create accounts", accountTypes)
	}
	m.metadata = *res.OK
	return nil
}

// probeBatonSDK reads a baton-sdk guest's configuration schema.
func (m *Module) probeBatonSDK(ctx context.Context, inst *instance) error {
	out, err := inst.call(ctx, m.cfg, abi.ExportBatonSDKSchema, nil)
	if err != nil {
		return fmt.Errorf("reading the baton-sdk guest's configuration schema: %w", err)
	}
	if !json.Valid(out) {
		return errors.New("reading the baton-sdk guest's configuration schema: malformed output")
	}
	m.kind, m.sdkSchema = GuestBatonSDK, out
	return nil
}

// Kind returns the contract the guest speaks.
func (m *Module) Kind() GuestKind { return m.kind }

// BatonSDKSchema returns a baton-sdk guest's configuration schema
// (batonsdk.Schema, as JSON); nil for other guests.
func (m *Module) BatonSDKSchema() json.RawMessage { return m.sdkSchema }

// Metadata returns what the guest reported about itself at compile time.
func (m *Module) Metadata() abi.Metadata { return m.metadata }

// SHA256 returns the hex SHA-256 of the module binary.
func (m *Module) SHA256() string { return m.sha256 }

// Close releases the compiled module; a second Close does nothing. A
// pool made from it fails its calls afterwards (it cannot instantiate).
func (m *Module) Close(ctx context.Context) error {
	m.closeOnce.Do(func() {
		m.closeErr = m.compiled.Close(ctx)
		m.closeCache(ctx)
	})
	return m.closeErr
}

// closeCache closes the compilation cache; extism requires that this happens
// only after every plugin compiled with it is closed.
func (m *Module) closeCache(ctx context.Context) {
	if m.cache != nil {
		_ = m.cache.Close(ctx)
	}
}

// compilePlugin compiles the guest with extism. A module can crash
// wazero's validator (v1.12.0 indexes the type section with a function's
// type index before checking it, on a call to that function); recovered
// here, that is one refused module instead of a host process down with
// every tenant in it.
func compilePlugin(ctx context.Context, manifest extism.Manifest, rc wazero.RuntimeConfig) (compiled *extism.CompiledPlugin, err error) {
	defer func() {
		if r := recover(); r != nil {
			compiled, err = nil, fmt.Errorf("the WebAssembly runtime failed on the module: %v", r)
		}
	}()
	return extism.NewCompiledPlugin(ctx, manifest, extism.PluginConfig{
		RuntimeConfig: rc,
		EnableWasi:    true,
	}, append(hostFunctions(), tickFunction()))
}
