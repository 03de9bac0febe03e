// Package wasmbuild builds guest modules for tests, once per test process.
// `make test` builds them once for the whole run and points
// BATON_TEST_WASM_DIR at them, so no test package compiles a guest itself.
package wasmbuild

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	built = map[string]string{}
	dir   string
)

// Module returns the path of the guest module built from the main package
// pkg (a path relative to the module root, e.g. "guest/segment/wasm"),
// named <last element of pkg's parent>.wasm in BATON_TEST_WASM_DIR when that
// is set, and built with the standard toolchain otherwise.
func Module(t testing.TB, pkg string) string {
	t.Helper()
	p, err := Path(pkg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Path is Module for callers without a testing.TB (Example functions).
func Path(pkg string) (string, error) {
	name := Name(pkg)
	if d := os.Getenv("BATON_TEST_WASM_DIR"); d != "" {
		p := filepath.Join(d, name+".wasm")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[pkg]; ok {
		return p, nil
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "baton-runner-wasm-")
		if err != nil {
			return "", err
		}
		dir = d
	}
	out := filepath.Join(dir, name+".wasm")
	if err := Build(root(), pkg, out); err != nil {
		return "", err
	}
	built[pkg] = out
	return out, nil
}

// Read returns the bytes of the module Path gives.
func Read(pkg string) ([]byte, error) {
	p, err := Path(pkg)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// CacheDir is the compilation cache the tests and examples of every
// package, and the binaries the CLI tests run, share, so that a guest
// compiles once per machine: BATON_TEST_CACHE_DIR (`make test` keeps one
// beside its temporary files, which it removes), else one in the temp dir.
var CacheDir = cmp.Or(os.Getenv("BATON_TEST_CACHE_DIR"), filepath.Join(os.TempDir(), "baton-runner-test-cache"))

// Name is the module name used for pkg: "guest/segment/wasm" → "segment",
// "internal/testguests/probe" → "probe".
func Name(pkg string) string {
	if path.Base(pkg) == "wasm" {
		return path.Base(path.Dir(pkg))
	}
	return path.Base(pkg)
}

// Build compiles the main package pkg under moduleRoot into a WASI reactor
// module at out, as `make build` does. A pkg with a go.mod of its own (a
// baton-sdk guest, which replaces modernc.org/sqlite) is built in its own
// module.
func Build(moduleRoot, pkg, out string) error {
	dir, target := moduleRoot, "./"+pkg
	if _, err := os.Stat(filepath.Join(moduleRoot, pkg, "go.mod")); err == nil {
		dir, target = filepath.Join(moduleRoot, pkg), "."
	}
	if !filepath.IsAbs(out) {
		abs, err := filepath.Abs(out)
		if err != nil {
			return err
		}
		out = abs
	}
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", out, target)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s for wasip1: %v\n%s", pkg, err, b)
	}
	return nil
}

// root is the module root: two directories above this file.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
