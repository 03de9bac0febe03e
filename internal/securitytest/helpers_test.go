package securitytest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

const (
	hostilePkg = "internal/testguests/hostile"
	segmentPkg = "guest/segment/wasm"
)

// hostileLimits are the sandbox limits of the hostile guest: small, so that
// containment is quick, and an output cap the huge-output attack overruns.
func hostileLimits(c *sandbox.Config) {
	c.MemoryLimitMiB = 64
	c.CallTimeout = 20 * time.Second
	c.MaxOutputBytes = 1 << 20
}

var (
	modMu   sync.Mutex
	modules = map[string]*sandbox.Module{}
)

// module compiles pkg once per test process (per logger-less config key).
func module(t *testing.T, pkg string, mod func(*sandbox.Config)) *sandbox.Module {
	t.Helper()
	return moduleKeyed(t, pkg, pkg, mod)
}

// moduleKeyed compiles pkg with the limits mod sets, once per test process
// and key.
func moduleKeyed(t *testing.T, key, pkg string, mod func(*sandbox.Config)) *sandbox.Module {
	t.Helper()
	modMu.Lock()
	defer modMu.Unlock()
	if m, ok := modules[key]; ok {
		return m
	}
	wasm, err := wasmbuild.Read(pkg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sandbox.Config{Wasm: wasm, CacheDir: wasmbuild.CacheDir}
	if mod != nil {
		mod(&cfg)
	}
	m, err := sandbox.Compile(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	modules[key] = m
	return m
}

func hostileModule(t *testing.T) *sandbox.Module { return module(t, hostilePkg, hostileLimits) }
func segmentModule(t *testing.T) *sandbox.Module { return module(t, segmentPkg, nil) }

// auditLog collects egress Records.
type auditLog struct {
	mu   sync.Mutex
	recs []egress.Record
}

func (a *auditLog) add(r egress.Record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, r)
}

func (a *auditLog) records() []egress.Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]egress.Record(nil), a.recs...)
}

// evilServer is every destination a guest must not reach: any request it
// receives is a containment failure.
type evilServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newEvil(t *testing.T) *evilServer {
	t.Helper()
	e := &evilServer{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		_, _ = w.Write([]byte("you reached the attacker"))
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *evilServer) port() string {
	u, _ := url.Parse(e.URL)
	return u.Port()
}

// marker is served by the origin's /canary endpoint; the memory scan must
// find it, which proves the scan sees what the guest received.
const marker = "CANARY-5b1e-marker-in-a-response-body"

// originServer plays the tenant's API origin. /echo-headers reports the
// credential headers it received without ever sending the token back: an
// Authorization equal to the tenant's is reported as "host-token".
type originServer struct {
	*httptest.Server
	token string

	mu   sync.Mutex
	seen []http.Header
}

func newOrigin(t *testing.T, token, evilURL string) *originServer {
	t.Helper()
	o := &originServer{token: token}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo-headers", func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Values("Authorization")
		for i, v := range auth {
			if v == "Bearer "+o.token {
				auth[i] = "host-token"
			}
		}
		h := r.Header.Clone()
		h.Del("Authorization")
		o.mu.Lock()
		o.seen = append(o.seen, h)
		o.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{
			"authorization":      auth,
			"cookie":             r.Header.Values("Cookie"),
			"proxyAuthorization": r.Header.Values("Proxy-Authorization"),
			"host":               r.Host,
			"xGuest":             r.Header.Get("X-Guest"),
		})
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evilURL+"/stolen", http.StatusFound)
	})
	mux.HandleFunc("/canary", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"data":"` + marker + `"}`))
	})
	o.Server = httptest.NewServer(mux)
	t.Cleanup(o.Close)
	return o
}

// fakeResolver maps names to fixed addresses, as a hostile or misconfigured
// DNS would.
type fakeResolver map[string][]string

func (r fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	var out []net.IPAddr
	for _, s := range r[host] {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no such host %s", host)
	}
	return out, nil
}

// hostileTenant is a tenant of the hostile guest running attack with the
// given settings.
type hostileTenant struct {
	tn    *tenant.Tenant
	cc    *tenant.Client
	audit *auditLog
}

func newHostileTenant(t *testing.T, name string, eg egress.Config, settings map[string]string, logger *zap.Logger) *hostileTenant {
	t.Helper()
	ht := &hostileTenant{audit: &auditLog{}}
	eg.Audit = ht.audit.add
	tn, err := tenant.New(hostileModule(t), tenant.Config{Name: name, Egress: eg, Settings: settings, Instances: 1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close(context.Background()) })
	cc, err := tn.Client(context.Background(), tenant.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	ht.tn, ht.cc = tn, cc
	return ht
}

// list runs ListResources through baton-sdk's client and returns the
// profile the guest reported.
func (h *hostileTenant) list(ctx context.Context) (map[string]string, error) {
	resp, err := h.cc.ListResources(ctx, v2.ResourcesServiceListResourcesRequest_builder{ResourceTypeId: "thing"}.Build())
	if err != nil {
		return nil, err
	}
	rs := resp.GetList()
	if len(rs) != 1 {
		return nil, fmt.Errorf("guest returned %d resources", len(rs))
	}
	app, err := resource.GetAppTrait(rs[0])
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range app.GetProfile().AsMap() {
		out[k] = fmt.Sprint(v)
	}
	return out, nil
}

// healthy syncs a Segment tenant against its own simulator in a loop until
// stop is closed, and reports each sync's error on the returned channel
// (closed when the loop ends). At least one sync always runs.
func healthy(t *testing.T, stop <-chan struct{}) <-chan error {
	return healthyTimed(t, stop, nil, 0)
}

// healthyTimed is healthy, recording each sync's duration in took when it
// is not nil, and starting a sync every interval (back to back when a sync
// takes longer, or when interval is 0).
func healthyTimed(t *testing.T, stop <-chan struct{}, took *neighbourLog, interval time.Duration) <-chan error {
	t.Helper()
	ws := segmentsim.Generate(segmentsim.DefaultConfig(30))
	want := map[string]int{"user": len(ws.Users), "invite": len(ws.Invites)}
	ts := httptest.NewServer(segmentsim.NewServer(ws, segmentsim.Options{}))
	t.Cleanup(ts.Close)
	m := segmentModule(t)
	dir := t.TempDir()
	out := make(chan error, 64)
	go func() {
		defer close(out)
		for i := 0; ; i++ {
			start := time.Now()
			err := syncOnce(m, ts.URL, filepath.Join(dir, fmt.Sprintf("healthy-%d.c1z", i)), dir, want)
			if took != nil {
				took.add(time.Since(start))
			}
			out <- err
			select {
			case <-stop:
				return
			case <-time.After(time.Until(start.Add(interval))):
			}
		}
	}()
	return out
}

func syncOnce(m *sandbox.Module, url, path, tmp string, want map[string]int) error {
	tn, err := tenant.New(m, tenant.Config{Name: "healthy", Egress: egress.Config{BaseURL: url, Token: secret.New(segmentsim.DefaultToken)}})
	if err != nil {
		return err
	}
	defer tn.Close(context.Background())
	if err := tn.Sync(context.Background(), localsync.Options{Path: path, TmpDir: tmp}); err != nil {
		return err
	}
	if s := tn.Stats(); s.Traps+s.Timeouts+s.OutputErrors != 0 {
		return fmt.Errorf("healthy tenant's sandbox counters %+v", s)
	}
	return checkCounts(path, tmp, want)
}

func contains(haystack, needle string) bool {
	return needle != "" && strings.Contains(haystack, needle)
}
