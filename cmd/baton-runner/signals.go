package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
)

// exitInterrupted is the shell's status for a process ended by Ctrl-C
// (128 + SIGINT), which scripts and CI runners test for.
const exitInterrupted = 130

// withInterrupt cancels ctx on the first Ctrl-C, so the command stops
// cleanly (a sync leaves the previous c1z in place), and exits at once on a
// second. interrupted reports whether Ctrl-C was pressed.
func withInterrupt(parent context.Context) (ctx context.Context, interrupted func() bool) {
	ctx, cancel := context.WithCancel(parent)
	var got atomic.Bool
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt)
	go func() {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
		got.Store(true)
		cancel()
		<-ch
		fmt.Fprintln(os.Stderr, "baton-runner: interrupted again; exiting now")
		os.Exit(exitInterrupted)
	}()
	return ctx, got.Load
}
