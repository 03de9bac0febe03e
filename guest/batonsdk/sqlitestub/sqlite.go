// Package sqlite stands in for modernc.org/sqlite in baton-sdk guests:
// baton-sdk's uhttp imports it for an optional response cache, and its
// C-to-Go runtime has no wasip1 build. A guest module replaces it with
// this empty package (see examples/baton-demo/wasm/go.mod); the cache
// then reports that its backend is missing, and the guest keeps no
// cache, as it would with the default in-memory backend disabled.
package sqlite

// Error is what baton-sdk's dotc1z looks for in errors with errors.As; a
// guest opens no database, so no value of it is ever made.
type Error struct{ code int }

func (e *Error) Error() string { return "sqlite is not available in a baton-runner guest" }

// Code is the SQLite result code.
func (e *Error) Code() int { return e.code }
