//go:build unix

package localsync

import (
	"errors"
	"os"
	"syscall"
)

// flock takes an exclusive lock on f without waiting (ErrLocked if another
// holder has it). The kernel drops it when the process dies, however it
// dies, so a stale lock cannot outlive a SIGKILL.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return ErrLocked
		}
		return err
	}
}
