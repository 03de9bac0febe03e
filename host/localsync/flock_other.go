//go:build !unix

package localsync

import "os"

// flock is a no-op where flock(2) does not exist; baton-runner ships for
// Linux, where the lock is real.
func flock(*os.File) error { return nil }
