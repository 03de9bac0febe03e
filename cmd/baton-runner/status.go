package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/baton-runner/baton-runner/host/runner"
)

// statusHandler serves /status: {"tenants":[{"name":…,"state":…,…}]}, the
// state of every tenant this process runs (see runner.TenantStatus).
func statusHandler(r *runner.Runner) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Tenants []runner.TenantStatus `json:"tenants"`
		}{r.Status()})
	})
}

// readiness is /readyz's answer: ready once every tenant has been started,
// and not while a tenant waits for a reload (its credentials were rejected;
// only an operator can fix it). A tenant that fails and retries does not
// make the process unready: /status and the tenant metrics show it.
func readiness(started func() bool, r *runner.Runner) (bool, string) {
	if !started() {
		return false, "not ready: starting tenants"
	}
	var stuck []string
	for _, s := range r.Status() {
		if s.State == runner.StateWaitingForReload {
			stuck = append(stuck, s.Name)
		}
	}
	if len(stuck) > 0 {
		return false, fmt.Sprintf("not ready: tenant(s) %s had their credentials rejected and wait for a configuration reload; see /status", strings.Join(stuck, ", "))
	}
	return true, "ready"
}
