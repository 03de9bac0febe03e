//go:build unix

package localsync

import (
	"errors"
	"os"
	"syscall"
)

// flock takes an exclusive lock on f without waiting. The kernel drops it
// when the process dies, however it dies, so a stale lock cannot outlive a
// SIGKILL.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
