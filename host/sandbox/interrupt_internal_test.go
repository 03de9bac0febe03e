package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"

	"github.com/baton-runner/baton-runner/host/sandbox/internal/fuel"
	"github.com/baton-runner/baton-runner/internal/testguests/handmade"
)

// crashesWazero has a call to a function whose type index is past the
// type section: wazero v1.12.0's validator panics on it.
var crashesWazero = []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01`\x00\x00\x02\t\x01\x03000\x010\x00\x00" +
	"\x03\x03\x02\x000\n\x0e\x02\x04\x00\x10\x02\v\a\x0000000\v")

// TestCompileSurvivesARuntimePanic: a module that crashes wazero is one
// refused module, not a crashed host. instrument refuses this one before
// wazero sees it; compilePlugin's recover is there for the crashes not
// yet known.
func TestCompileSurvivesARuntimePanic(t *testing.T) {
	ctx := context.Background()
	if _, err := Compile(ctx, Config{Wasm: crashesWazero}); err == nil || !strings.Contains(err.Error(), "the module has 1 types") {
		t.Fatalf("Compile: err = %v, want the module refused for its undefined type", err)
	}
	manifest := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: crashesWazero}}}
	if _, err := compilePlugin(ctx, manifest, wazero.NewRuntimeConfig()); err == nil || !strings.Contains(err.Error(), "failed on the module") {
		t.Fatalf("compilePlugin: err = %v, want the runtime's failure reported", err)
	}
}

// TestInstrumentCachedReusesItsOutput: the second compile of a module
// reads the rewrite from the cache directory instead of redoing it; a
// cached file that was altered is rewritten, not run; a module that
// cannot be instrumented leaves nothing there.
func TestInstrumentCachedReusesItsOutput(t *testing.T) {
	dir := t.TempDir()
	wasm := handmade.TableDeclared(3)
	sum := sha256.Sum256(wasm)
	first, err := instrumentCached(wasm, sum, dir)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "instrumented-*.wasm"))
	if len(files) != 1 || !strings.Contains(files[0], fuel.Fingerprint) {
		t.Fatalf("cache holds %v, want one instrumented module named by the rewriter's fingerprint", files)
	}
	// A marker appended by a valid writer proves the next call read the
	// file; the same marker appended to a file whose checksum no longer
	// matches is ignored.
	marked := fuel.Result{Wasm: append(bytes.Clone(first.Wasm), 0), InstanceBytes: first.InstanceBytes}
	if err := os.WriteFile(files[0], encodeCached(marked), 0o600); err != nil {
		t.Fatal(err)
	}
	if second, err := instrumentCached(wasm, sum, dir); err != nil || len(second.Wasm) != len(first.Wasm)+1 {
		t.Fatalf("second call returned %d bytes (err %v), want the cached %d", len(second.Wasm), err, len(first.Wasm)+1)
	}
	if err := os.WriteFile(files[0], append(encodeCached(first), 0), 0o600); err != nil {
		t.Fatal(err)
	}
	if third, err := instrumentCached(wasm, sum, dir); err != nil || !bytes.Equal(third.Wasm, first.Wasm) {
		t.Fatalf("a tampered cache file was used (%d bytes, err %v), want a fresh rewrite", len(third.Wasm), err)
	}
	bad := []byte("\x00asm\x01\x00\x00\x00\x0a\x05")
	if _, err := instrumentCached(bad, sha256.Sum256(bad), dir); err == nil {
		t.Fatal("a truncated module was instrumented")
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 1 {
		t.Fatalf("cache holds %v after a refused module, want only the first", files)
	}
}

// TestCacheDirOthersCanWriteIsRefused: the cache holds native code the
// host runs, so a directory other users can write, or a symbolic link,
// is refused before anything is read from it.
func TestCacheDirOthersCanWriteIsRefused(t *testing.T) {
	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{open: "writable by other users", link: "not a directory"} {
		_, err := Compile(context.Background(), Config{Wasm: handmade.TableDeclared(1), CacheDir: dir})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--cache-dir") {
			t.Errorf("%s: err = %v, want it refused as %q, naming --cache-dir", dir, err, want)
		}
	}
}
