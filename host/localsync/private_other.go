//go:build !unix

package localsync

import "io/fs"

// private reports whether fi is a directory: without Unix owners and
// modes there is nothing more to check (baton-runner ships for Linux, as
// flock says).
func private(fi fs.FileInfo) bool { return fi.IsDir() }
