//go:build unix

package localsync

import (
	"io/fs"
	"os"
	"syscall"
)

// private reports whether fi (from Lstat) is a directory owned by this
// process's user that no other user can enter.
func private(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.IsDir() && fi.Mode().Perm()&0o077 == 0 && int(st.Uid) == os.Geteuid()
}
