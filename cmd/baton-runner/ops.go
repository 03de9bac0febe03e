package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// opsEndpoints is what a long-running command (daemon, service) serves to
// its operator besides /healthz. Both commands share serveOps so that the
// probes of an orchestrator behave the same whichever runs.
type opsEndpoints struct {
	// name says what is served, in errors and logs ("health and metrics").
	name string
	// setting names what to change when the address cannot be used.
	setting string
	// ready answers /readyz: whether to take traffic, and a one-line
	// reason shown either way.
	ready func() (bool, string)
	// more maps further paths (/status, /metrics) to their handlers.
	more map[string]http.Handler
}

// serveOps serves /healthz (the process is alive), /readyz and ep.more on
// addr until stop is called.
func serveOps(addr string, ep opsEndpoints, logger *zap.Logger) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := ep.ready()
		if !ok {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, why)
	})
	for path, h := range ep.more {
		mux.Handle(path, h)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s for %s: %w (%s)", addr, ep.name, err, ep.setting)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error(ep.name+" endpoint stopped", zap.Error(err))
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
