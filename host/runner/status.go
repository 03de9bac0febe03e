package runner

import (
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"

	"github.com/baton-runner/baton-runner/host/membudget"
	"github.com/baton-runner/baton-runner/host/service"
	"github.com/baton-runner/baton-runner/internal/rpcerr"
)

// The states of a tenant, as /status and the baton_runner_tenant_state
// metric report them.
const (
	StateStarting = "starting" // no outcome yet
	StateOK       = "ok"       // the last sync succeeded, or the service is connected
	StateFailing  = "failing"  // the last attempt failed; Reason says why
	// StateWaitingForReload: the upstream rejected the tenant's credentials
	// AuthFailuresBeforeStop times in a row; retrying cannot help until the
	// configuration (or the secret it references) changes and is reloaded.
	StateWaitingForReload = "waiting for reload"
)

// The phases of a tenant: what it is doing now, beside State, the outcome
// of its last attempt (a tenant in its first sync is "starting" but
// "syncing").
const (
	PhaseStarting = "starting" // built, before its first sync or connection
	// PhaseQueued: due to sync, waiting for one of max_concurrent_syncs.
	PhaseQueued = "queued"
	// PhaseWaitingForMemory: given a slot, waiting until its estimated
	// peak fits the process memory budget beside the syncs running.
	PhaseWaitingForMemory = "waiting for memory"
	PhaseSyncing          = "syncing"
	PhaseIdle             = "idle"    // between scheduled syncs, until NextRun
	PhaseServing          = "serving" // a service tenant taking ConductorOne's tasks
	PhaseBackingOff       = "backing off"
	// PhaseWaitingForReload: as StateWaitingForReload.
	PhaseWaitingForReload = "waiting for reload"
)

// Phases lists every phase, as the tenant_phase metric's phase label has
// them (spaces as underscores).
var Phases = []string{PhaseStarting, PhaseQueued, PhaseWaitingForMemory, PhaseSyncing, PhaseIdle, PhaseServing, PhaseBackingOff, PhaseWaitingForReload}

// AuthFailuresBeforeStop is how many times in a row a tenant whose
// credentials are rejected (its API token, or its ConductorOne client ID
// and secret) is tried before it waits for a reload.
const AuthFailuresBeforeStop = 3

// TenantStatus is what an operator needs to know about one tenant.
type TenantStatus struct {
	Name                string     `json:"name"`
	State               string     `json:"state"`
	Reason              string     `json:"reason,omitempty"`
	LastSuccess         *time.Time `json:"last_success,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	// NextRun is when the tenant next syncs or, failing, restarts; unset
	// while a sync runs, for a service tenant and while waiting for reload.
	NextRun *time.Time `json:"next_run,omitempty"`
	// BackingOffUntil is set while a failed tenant waits to restart.
	BackingOffUntil *time.Time `json:"backing_off_until,omitempty"`
	// Phase is what the tenant is doing now, since Since.
	Phase string     `json:"phase"`
	Since *time.Time `json:"since"`
	// SyncPeakMiB is the peak of the tenant's last successful sync that
	// ran alone, above the process's idle RSS: what its syncs reserve
	// under a process memory budget. Unset until measured (then they
	// reserve membudget.DefaultSyncPeakMiB) and without a budget.
	SyncPeakMiB int64 `json:"sync_peak_mib,omitempty"`
}

// enter moves s to phase, keeping Since if it is in it already.
func (s *TenantStatus) enter(phase string) {
	if s.Phase != phase || s.Since == nil {
		s.Phase, s.Since = phase, at(time.Now())
	}
}

// ConfigStatus is what an operator needs to know about the configuration
// a runner runs: a reload that was rejected leaves the previous one
// running, which only the log said before.
type ConfigStatus struct {
	// Generation counts the configurations applied, the first one 1.
	Generation int        `json:"generation"`
	AppliedAt  *time.Time `json:"applied_at,omitempty"`
	// LastReload is the last attempt to load the configuration anew.
	LastReload *ReloadStatus `json:"last_reload,omitempty"`
}

// ReloadStatus is the outcome of one reload.
type ReloadStatus struct {
	At time.Time `json:"at"`
	// Trigger says what started it: "SIGHUP", "secret file changed".
	Trigger string `json:"trigger"`
	// Result is ReloadApplied or ReloadRejected (Error says why).
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// The results of a reload.
const (
	ReloadApplied  = "applied"
	ReloadRejected = "rejected"
)

// statusBoard holds every running tenant's status, and the configuration's.
type statusBoard struct {
	mu      sync.Mutex
	config  ConfigStatus
	tenants map[string]*TenantStatus
	// ready reports whether a service tenant is connected to ConductorOne;
	// it is read when the status is.
	ready map[string]func() bool
	// notify, if set, gets each tenant's status after every change.
	notify func(TenantStatus)
}

func newStatusBoard(notify func(TenantStatus)) *statusBoard {
	return &statusBoard{tenants: map[string]*TenantStatus{}, ready: map[string]func() bool{}, notify: notify}
}

// serving registers a service tenant's readiness.
func (b *statusBoard) serving(name string, ready func() bool) {
	b.mu.Lock()
	b.ready[name] = ready
	b.mu.Unlock()
	b.update(name, func(s *TenantStatus) { s.enter(PhaseServing) })
}

func (b *statusBoard) update(name string, f func(*TenantStatus)) {
	b.mu.Lock()
	s := b.tenants[name]
	if s == nil {
		s = &TenantStatus{Name: name, State: StateStarting}
		s.enter(PhaseStarting)
		b.tenants[name] = s
	}
	f(s)
	changed := *s
	b.mu.Unlock()
	// Outside the lock: the callback may read Status.
	if b.notify != nil {
		b.notify(changed)
	}
}

func (b *statusBoard) remove(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.tenants, name)
	delete(b.ready, name)
}

func (b *statusBoard) snapshot() []TenantStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]TenantStatus, 0, len(b.tenants))
	for name, s := range b.tenants {
		st := *s
		if ready := b.ready[name]; ready != nil && st.State != StateWaitingForReload {
			if ready() {
				st.State, st.Reason, st.NextRun, st.BackingOffUntil = StateOK, "", nil, nil
			}
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// applied records a configuration applied.
func (b *statusBoard) applied() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.config.Generation++
	b.config.AppliedAt = at(time.Now())
}

// Reloaded records the outcome of a reload that trigger started: err is why
// it was rejected, nil if it was applied.
func (r *Runner) Reloaded(trigger string, err error) {
	rs := &ReloadStatus{At: time.Now().UTC().Round(time.Second), Trigger: trigger, Result: ReloadApplied}
	if err != nil {
		rs.Result, rs.Error = ReloadRejected, err.Error()
	}
	r.status.mu.Lock()
	defer r.status.mu.Unlock()
	r.status.config.LastReload = rs
}

// Config returns the status of the configuration this process runs.
func (r *Runner) Config() ConfigStatus {
	r.status.mu.Lock()
	defer r.status.mu.Unlock()
	c := r.status.config
	if c.LastReload != nil {
		lr := *c.LastReload
		c.LastReload = &lr
	}
	return c
}

func at(t time.Time) *time.Time { t = t.UTC().Round(time.Second); return &t }

// succeeded records a good sync (next: when the next one runs) or a
// connected service (next zero).
func (b *statusBoard) succeeded(name string, now, next time.Time) {
	b.update(name, func(s *TenantStatus) {
		s.State, s.Reason, s.ConsecutiveFailures, s.BackingOffUntil = StateOK, "", 0, nil
		s.LastSuccess = at(now)
		s.NextRun = nil
		if !next.IsZero() {
			s.NextRun = at(next)
			s.enter(PhaseIdle)
		}
	})
}

// queued records a sync that is due and waits for a slot.
func (b *statusBoard) queued(name string) {
	b.update(name, func(s *TenantStatus) { s.NextRun = nil; s.enter(PhaseQueued) })
}

// waitingForMemory records a sync that has a slot and waits for its
// estimated peak to fit the memory budget.
func (b *statusBoard) waitingForMemory(name string) {
	b.update(name, func(s *TenantStatus) { s.enter(PhaseWaitingForMemory) })
}

// estimated records a tenant's measured sync peak, in bytes, if the
// tenant is still on the board (a sync may end as a reload removes it).
func (b *statusBoard) estimated(name string, peak int64) {
	b.mu.Lock()
	s := b.tenants[name]
	if s == nil {
		b.mu.Unlock()
		return
	}
	s.SyncPeakMiB = membudget.MiB(peak)
	changed := *s
	b.mu.Unlock()
	if b.notify != nil {
		b.notify(changed)
	}
}

// running records a sync under way.
func (b *statusBoard) running(name string) {
	b.update(name, func(s *TenantStatus) { s.NextRun = nil; s.enter(PhaseSyncing) })
}

// failed records a failure and returns the reason in one sentence and
// whether the tenant should stop retrying (its token was rejected
// AuthFailuresBeforeStop times in a row).
func (b *statusBoard) failed(name string, err error, retryAt time.Time) (reason string, stop bool) {
	reason, code := rpcerr.Sentence(err)
	// Rejected credentials, upstream's (the API token) or ConductorOne's
	// (client ID and secret), stay rejected until the configuration changes.
	rejected := code == codes.Unauthenticated
	if errors.Is(err, service.ErrCredentials) {
		rejected, reason = true, service.ErrCredentials.Error()
	}
	b.mu.Lock()
	delete(b.ready, name) // the failed service's; a restart registers anew
	b.mu.Unlock()
	b.update(name, func(s *TenantStatus) {
		s.ConsecutiveFailures++
		s.Reason = reason
		s.State = StateFailing
		stop = rejected && s.ConsecutiveFailures >= AuthFailuresBeforeStop
		if stop {
			s.State, s.NextRun, s.BackingOffUntil = StateWaitingForReload, nil, nil
			s.enter(PhaseWaitingForReload)
			return
		}
		s.NextRun, s.BackingOffUntil = at(retryAt), at(retryAt)
		s.enter(PhaseBackingOff)
	})
	return reason, stop
}

// Status returns the status of every tenant this process runs, by name.
func (r *Runner) Status() []TenantStatus { return r.status.snapshot() }

// States lists every state, as the tenant_state metric's state label has
// them (spaces as underscores).
var States = []string{StateStarting, StateOK, StateFailing, StateWaitingForReload}

func stateLabel(s string) string { return strings.ReplaceAll(s, " ", "_") }

// statusCollector exports the board at scrape time, so a removed tenant's
// series disappear with it.
type statusCollector struct {
	board                                     *statusBoard
	state, lastSuccess, failures, nextRun, up *prometheus.Desc
	phase, phaseSince                         *prometheus.Desc
	generation, reloadOK, reloadAt            *prometheus.Desc
}

func newStatusCollector(b *statusBoard) *statusCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append([]string{"tenant"}, labels...), nil)
	}
	return &statusCollector{
		board:       b,
		state:       d("baton_runner_tenant_state", "1 for the tenant's current state (starting, ok, failing, waiting_for_reload), 0 for the others.", "state"),
		up:          d("baton_runner_tenant_up", "1 while the tenant's last sync succeeded or its service is connected, else 0."),
		lastSuccess: d("baton_runner_tenant_last_success_timestamp_seconds", "When the tenant last synced successfully (or its service was last seen connected); absent before the first success."),
		failures:    d("baton_runner_tenant_consecutive_failures", "Failures since the tenant's last success."),
		nextRun:     d("baton_runner_tenant_next_run_timestamp_seconds", "When the tenant next syncs or restarts after a failure; absent while it runs or waits for a reload."),
		phase:       d("baton_runner_tenant_phase", "1 for what the tenant is doing now (starting, queued, waiting_for_memory, syncing, idle, serving, backing_off, waiting_for_reload), 0 for the rest.", "phase"),
		phaseSince:  d("baton_runner_tenant_phase_since_timestamp_seconds", "When the tenant entered its current phase."),
		generation:  prometheus.NewDesc("baton_runner_config_generation", "Configurations applied since the process started, the first one 1.", nil, nil),
		reloadOK:    prometheus.NewDesc("baton_runner_config_last_reload_success", "1 if the last reload was applied, 0 if it was rejected (the previous configuration runs); absent before any reload.", nil, nil),
		reloadAt:    prometheus.NewDesc("baton_runner_config_last_reload_timestamp_seconds", "When the configuration was last reloaded, applied or rejected; absent before any reload.", nil, nil),
	}
}

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.up, c.lastSuccess, c.failures, c.nextRun, c.phase, c.phaseSince, c.generation, c.reloadOK, c.reloadAt} {
		ch <- d
	}
}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	c.board.mu.Lock()
	config := c.board.config
	c.board.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(c.generation, prometheus.GaugeValue, float64(config.Generation))
	if lr := config.LastReload; lr != nil {
		ok := 0.0
		if lr.Result == ReloadApplied {
			ok = 1
		}
		ch <- prometheus.MustNewConstMetric(c.reloadOK, prometheus.GaugeValue, ok)
		ch <- prometheus.MustNewConstMetric(c.reloadAt, prometheus.GaugeValue, float64(lr.At.Unix()))
	}
	for _, s := range c.board.snapshot() {
		for _, st := range States {
			v := 0.0
			if st == s.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, s.Name, stateLabel(st))
		}
		up := 0.0
		if s.State == StateOK {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, s.Name)
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.GaugeValue, float64(s.ConsecutiveFailures), s.Name)
		last := s.LastSuccess
		if last == nil && s.State == StateOK {
			last = &now // a connected service
		}
		if last != nil {
			ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, float64(last.Unix()), s.Name)
		}
		if s.NextRun != nil {
			ch <- prometheus.MustNewConstMetric(c.nextRun, prometheus.GaugeValue, float64(s.NextRun.Unix()), s.Name)
		}
		for _, ph := range Phases {
			v := 0.0
			if ph == s.Phase {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.phase, prometheus.GaugeValue, v, s.Name, stateLabel(ph))
		}
		if s.Since != nil {
			ch <- prometheus.MustNewConstMetric(c.phaseSince, prometheus.GaugeValue, float64(s.Since.Unix()), s.Name)
		}
	}
}
