package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/baton-runner/baton-runner/host/runner"
)

// statusHandler serves /status: {"config":{…},"tenants":[{"name":…,"state":…,
// "phase":…,…}]}, the configuration this process runs (its generation and
// the last reload's outcome) and the state of every tenant it runs (see
// runner.ConfigStatus and runner.TenantStatus).
func statusHandler(r *runner.Runner) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Config  runner.ConfigStatus   `json:"config"`
			Tenants []runner.TenantStatus `json:"tenants"`
		}{r.Config(), r.Status()})
	})
}

// readiness is /readyz's answer: whether the process can do its job, which
// it can once every tenant has been started. A tenant that fails, even one
// whose token was rejected and that waits for a reload, does not make it
// unready: the process still serves every other tenant, and taking it out
// of service (or stalling a rolling update of every pod) fixes nothing.
// /status, the tenant metrics and their alerts tell; the answer names the
// tenants that need attention.
func readiness(started func() bool, r *runner.Runner) (bool, string) {
	if !started() {
		return false, "not ready: starting tenants"
	}
	var attention []string
	for _, s := range r.Status() {
		if s.State == runner.StateFailing || s.State == runner.StateWaitingForReload {
			attention = append(attention, s.Name+" ("+s.State+")")
		}
	}
	if len(attention) > 0 {
		return true, fmt.Sprintf("ready; tenant(s) %s need attention, see /status", strings.Join(attention, ", "))
	}
	return true, "ready"
}
