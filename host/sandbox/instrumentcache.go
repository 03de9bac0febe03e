package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/baton-runner/baton-runner/host/sandbox/internal/fuel"
)

// instrumentCached is fuel.Instrument, with its output kept in dir (the
// compilation cache directory): rewriting a Go guest takes ~19 ms, a
// quarter of a warm start. A file is named by the module's sha256 and the
// rewriter's own fingerprint (a hash of its source), so any change to the
// rewriter leaves old rewrites unread; each file carries the sha256 of
// its content, so a truncated or altered file is rewritten, not run. A
// module that cannot be instrumented is not cached; a cache that cannot
// be written only costs the rewrite next time.
func instrumentCached(wasm []byte, sum [32]byte, dir string) (fuel.Result, error) {
	if dir == "" {
		return fuel.Instrument(wasm)
	}
	path := filepath.Join(dir, fmt.Sprintf("instrumented-%s-%x.wasm", fuel.Fingerprint, sum))
	if b, err := os.ReadFile(path); err == nil {
		if res, ok := decodeCached(b); ok {
			return res, nil
		}
	}
	res, err := fuel.Instrument(wasm)
	if err != nil {
		return res, err
	}
	if tmp, err := os.CreateTemp(dir, ".instrumented-*"); err == nil {
		_, werr := tmp.Write(encodeCached(res))
		cerr := tmp.Close()
		if werr != nil || cerr != nil || os.Rename(tmp.Name(), path) != nil {
			_ = os.Remove(tmp.Name())
		}
	}
	return res, nil
}

// A cached rewrite: magic, the sha256 of what follows it, the instance's
// cost (8 bytes, little-endian), the module.
const cacheMagic = "bri-fuel"

func encodeCached(res fuel.Result) []byte {
	payload := binary.LittleEndian.AppendUint64(nil, res.InstanceBytes)
	payload = append(payload, res.Wasm...)
	sum := sha256.Sum256(payload)
	return append(append([]byte(cacheMagic), sum[:]...), payload...)
}

func decodeCached(b []byte) (fuel.Result, bool) {
	const head = len(cacheMagic) + sha256.Size
	if len(b) < head+8 || string(b[:len(cacheMagic)]) != cacheMagic {
		return fuel.Result{}, false
	}
	payload := b[head:]
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], b[len(cacheMagic):head]) {
		return fuel.Result{}, false
	}
	return fuel.Result{InstanceBytes: binary.LittleEndian.Uint64(payload), Wasm: payload[8:]}, true
}

// checkCacheDir refuses a cache directory another user could write to:
// it holds the guests' native code and their rewrites, which the host
// runs. A predictable default under /tmp may have been created by anyone.
func checkCacheDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory (a symbolic link is refused too)", dir)
	case ok && int(st.Uid) != os.Getuid():
		return fmt.Errorf("%s belongs to user %d, not to this user (%d): another user could plant code in it", dir, st.Uid, os.Getuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by other users (mode %v): another user could plant code in it", dir, fi.Mode().Perm())
	}
	return nil
}
