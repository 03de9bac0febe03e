package runner

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/membudget"
	"github.com/baton-runner/baton-runner/host/sandbox"
)

// Metrics is the runner's Prometheus registry of per-tenant metrics. A nil
// *Metrics records nothing.
type Metrics struct {
	registry     *prometheus.Registry
	syncs        *prometheus.CounterVec
	syncDuration *prometheus.HistogramVec
	syncWait     prometheus.Histogram
	requests     *prometheus.CounterVec
	denials      *prometheus.CounterVec
	rateWait     *prometheus.CounterVec
	guestErrors  *prometheus.CounterVec
	instances    *prometheus.CounterVec
	memory       *prometheus.GaugeVec
	restarts     *prometheus.CounterVec
}

// NewMetrics returns a registry with the runner's metrics and the Go
// runtime's.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_runner_syncs_total", Help: "Syncs by tenant and result (success, failure).",
		}, []string{"tenant", "result"}),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "baton_runner_sync_duration_seconds", Help: "Duration of syncs, successful or not.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}, []string{"tenant"}),
		// One histogram for all tenants: with hundreds of tenants a
		// per-tenant one would be that many times its buckets, and which
		// tenant waits now is in baton_runner_tenant_phase.
		syncWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "baton_runner_sync_wait_seconds", Help: "Wait of scheduled syncs, all tenants together, from due to started: for a sync slot (max_concurrent_syncs), then for the memory budget (process_memory_mib).",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 19),
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_runner_api_requests_total", Help: "Guest API requests by tenant and HTTP status (0: no response).",
		}, []string{"tenant", "status"}),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_runner_egress_denials_total", Help: "Guest requests refused by the egress rules.",
		}, []string{"tenant"}),
		rateWait: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_runner_rate_limit_wait_seconds_total", Help: "Wall time during which the tenant had requests held by a rate limit (429s, a used-up window, pacing), counted once however many were held.",
		}, []string{"tenant"}),
		guestErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_runner_guest_traps_total", Help: "Guest calls stopped by the sandbox, by kind (trap, timeout, output).",
		}, []string{"tenant", "kind"}),
		instances: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_runner_guest_instances_created_total", Help: "Guest instances created (a trap or timeout discards one).",
		}, []string{"tenant"}),
		memory: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "baton_runner_guest_memory_bytes", Help: "Linear memory held by the tenant's guest instances at the last report.",
		}, []string{"tenant"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_runner_tenant_restarts_total", Help: "Tenant restarts after a failure.",
		}, []string{"tenant"}),
	}
	m.registry.MustRegister(m.own()...)
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// own is the runner's own collectors, without the tenant status (which is
// registered with its runner).
func (m *Metrics) own() []prometheus.Collector {
	return []prometheus.Collector{m.syncs, m.syncDuration, m.syncWait, m.requests, m.denials, m.rateWait, m.guestErrors, m.instances, m.memory, m.restarts}
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Names lists the names of the runner's own metrics, those a dashboard or
// alert rule may query (a histogram's _bucket, _sum and _count series
// are under its name).
func (m *Metrics) Names() []string {
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range append(m.own(), newStatusCollector(nil), newMemoryCollector(nil)) {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		if n := fqName.FindStringSubmatch(d.String()); n != nil {
			out = append(out, n[1])
		}
	}
	sort.Strings(out)
	return out
}

// watch exports a runner's tenant statuses and memory budget. A Metrics
// serves one runner.
func (m *Metrics) watch(b *statusBoard, mem *membudget.Budget) {
	if m != nil {
		m.registry.MustRegister(newStatusCollector(b), newMemoryCollector(mem))
	}
}

// memoryCollector exports the process memory budget at scrape time.
type memoryCollector struct {
	budget                       *membudget.Budget
	limit, idle, reserved, peaks *prometheus.Desc
}

func newMemoryCollector(b *membudget.Budget) *memoryCollector {
	return &memoryCollector{
		budget:   b,
		limit:    prometheus.NewDesc("baton_runner_memory_budget_bytes", "The process memory budget (process_memory_mib); 0: none.", nil, nil),
		idle:     prometheus.NewDesc("baton_runner_memory_idle_bytes", "The process's RSS with no sync running, when last read (as a sync started with none running); absent without a budget.", nil, nil),
		reserved: prometheus.NewDesc("baton_runner_memory_reserved_bytes", "What the running syncs reserve of the budget: their tenants' estimated peaks.", nil, nil),
		peaks:    prometheus.NewDesc("baton_runner_tenant_sync_peak_bytes", "The peak of the tenant's last successful sync that ran alone, above the idle process: what its syncs reserve of the budget.", []string{"tenant"}, nil),
	}
}

func (c *memoryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.limit, c.idle, c.reserved, c.peaks} {
		ch <- d
	}
}

func (c *memoryCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.budget.State()
	ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(st.Limit))
	if st.Limit > 0 {
		ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(st.Idle))
	}
	ch <- prometheus.MustNewConstMetric(c.reserved, prometheus.GaugeValue, float64(st.Reserved))
	for tenant, p := range st.Estimates {
		ch <- prometheus.MustNewConstMetric(c.peaks, prometheus.GaugeValue, float64(p), tenant)
	}
}

// Handler serves the metrics in Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Registry exposes the registry (tests read it).
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

func (m *Metrics) sync(tenant string, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.syncs.WithLabelValues(tenant, result).Inc()
	m.syncDuration.WithLabelValues(tenant).Observe(d.Seconds())
}

// waited records how long a due sync waited to start.
func (m *Metrics) waited(d time.Duration) {
	if m != nil {
		m.syncWait.Observe(d.Seconds())
	}
}

func (m *Metrics) restart(tenant string) {
	if m != nil {
		m.restarts.WithLabelValues(tenant).Inc()
	}
}

// sandbox adds the pool activity between two readings of its stats.
func (m *Metrics) sandbox(tenant string, now, before sandbox.Stats) {
	if m == nil {
		return
	}
	m.guestErrors.WithLabelValues(tenant, string(sandbox.KindTrap)).Add(float64(now.Traps - before.Traps))
	m.guestErrors.WithLabelValues(tenant, string(sandbox.KindTimeout)).Add(float64(now.Timeouts - before.Timeouts))
	m.guestErrors.WithLabelValues(tenant, string(sandbox.KindOutput)).Add(float64(now.OutputErrors - before.OutputErrors))
	m.instances.WithLabelValues(tenant).Add(float64(now.InstancesCreated - before.InstancesCreated))
	m.memory.WithLabelValues(tenant).Set(float64(now.MemoryBytes))
}

// auditFor returns the egress audit sink of a tenant, which feeds the
// request metrics.
func (m *Metrics) auditFor(tenant string) func(egress.Record) {
	if m == nil {
		return nil
	}
	return func(r egress.Record) {
		m.requests.WithLabelValues(tenant, strconv.Itoa(r.Status)).Inc()
		if r.Denied != "" {
			m.denials.WithLabelValues(tenant).Inc()
		}
	}
}

// heldFor returns the egress OnHeld of a tenant, which feeds the rate-limit
// wait: wall time, where each request's own RateLimitWait would count the
// seconds that requests were held together once per request (2,624 s in
// a 57 s sync).
func (m *Metrics) heldFor(tenant string) func(time.Duration) {
	if m == nil {
		return func(time.Duration) {}
	}
	c := m.rateWait.WithLabelValues(tenant)
	return func(d time.Duration) { c.Add(d.Seconds()) }
}
