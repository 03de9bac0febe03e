package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// The shell's statuses for a process a signal stopped (128 + the signal),
// which scripts, CI runners and Kubernetes read: SIGINT is Ctrl-C, SIGTERM
// what an orchestrator or kill sends.
const (
	exitInterrupted = 130
	exitTerminated  = 143
)

// withSignals cancels ctx on the first Ctrl-C or SIGTERM, so the command
// stops cleanly (a sync leaves the previous c1z in place, serve and
// service let tasks in flight finish), and exits at once on a second
// Ctrl-C. A second SIGTERM changes nothing: an orchestrator that will not
// wait sends SIGKILL. got returns the signal that stopped the command, nil
// if none did.
func withSignals(parent context.Context) (ctx context.Context, got func() os.Signal) {
	ctx, cancel := context.WithCancel(parent)
	var first atomic.Value
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		var s os.Signal
		select {
		case s = <-ch:
		case <-ctx.Done():
			return
		}
		first.Store(s)
		cancel()
		for s := range ch {
			if s == os.Interrupt {
				fmt.Fprintln(os.Stderr, "baton-runner: interrupted again; exiting now")
				os.Exit(exitInterrupted)
			}
		}
	}()
	return ctx, func() os.Signal {
		s, _ := first.Load().(os.Signal)
		return s
	}
}

// exitAfter is the status and message of a command that a signal
// stopped: Ctrl-C always ends in 130; SIGTERM in 143 when it cut the
// command short, and in the command's own status when the command
// finished what it does on SIGTERM (serve and service stop cleanly).
func exitAfter(sig os.Signal, err error) (code int, msg string, ok bool) {
	switch {
	case sig == os.Interrupt && err != nil:
		return exitInterrupted, fmt.Sprintf("interrupted: %v", err), true
	case sig == os.Interrupt:
		return exitInterrupted, "interrupted", true
	case sig == syscall.SIGTERM && err != nil:
		return exitTerminated, fmt.Sprintf("terminated: %v", err), true
	}
	return 0, "", false
}
