// Package egresshook lets tests inside this module replace the clock and
// the name resolver of an egress client. They are not part of
// egress.Config's public surface: an embedder has no reason to change
// them, and a replaced resolver would bypass the address checks' intent.
package egresshook

import (
	"context"
	"net"
	"time"
)

// Resolver looks up a host name's addresses; *net.Resolver implements it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Hooks replace what an egress client takes from the real world. Nil
// fields keep the real one.
type Hooks struct {
	// Sleep waits d or until ctx is done.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now returns the current time.
	Now func() time.Time
	// Resolver resolves the origin's host name.
	Resolver Resolver
}

// attach is installed by package egress, which this package cannot import
// (egress imports it for Hooks).
var attach func(cfg any, h Hooks)

// Register is called once by package egress with the function that stores
// Hooks in an *egress.Config.
func Register(f func(cfg any, h Hooks)) { attach = f }

// Set makes the client built from cfg, an *egress.Config, use h. It panics
// if cfg is of another type: a test bug.
func Set(cfg any, h Hooks) { attach(cfg, h) }
