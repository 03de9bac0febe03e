package egress

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/internal/egresshook"
)

const testToken = "tok-S3CR3T-do-not-leak-9f2c"

// fakeClock is an injected Now/Sleep: sleeping advances time instantly and
// is recorded, so back-off and rate-limit waits are asserted, not endured.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	f.t = f.t.Add(d)
	return nil
}

// advance moves the clock on without a sleep, as time spent working does.
func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

func (f *fakeClock) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// wantBackOff checks waits against the jittered exponential back-off from
// first: the i-th wait lies within (1±jitter) × first·2^i.
func wantBackOff(t *testing.T, what string, got []time.Duration, first time.Duration, n int) {
	t.Helper()
	if len(got) != n {
		t.Errorf("%s: waits %v, want %d", what, got, n)
		return
	}
	step := first
	for i, d := range got {
		lo, hi := time.Duration(float64(step)*(1-jitter)), time.Duration(float64(step)*(1+jitter))+1
		if d < lo || d > hi {
			t.Errorf("%s: wait %d is %v, want %v..%v (%v ±%.0f%%)", what, i+1, d, lo, hi, step, jitter*100)
		}
		step *= 2
	}
}

func sum(ds []time.Duration) time.Duration {
	var total time.Duration
	for _, d := range ds {
		total += d
	}
	return total
}

// fakeResolver maps names to fixed addresses.
type fakeResolver struct {
	mu    sync.Mutex
	m     map[string][]string
	err   error
	calls int
}

func (r *fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.err != nil {
		return nil, r.err
	}
	var out []net.IPAddr
	for _, s := range r.m[host] {
		ip, zone, _ := strings.Cut(s, "%")
		out = append(out, net.IPAddr{IP: net.ParseIP(ip), Zone: zone})
	}
	return out, nil
}

// auditLog collects Records.
type auditLog struct {
	mu   sync.Mutex
	recs []Record
}

func (a *auditLog) add(r Record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, r)
}

func (a *auditLog) all() []Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Record(nil), a.recs...)
}

// one returns the only record, failing the test if there is not exactly one.
func (a *auditLog) one(t *testing.T) Record {
	t.Helper()
	recs := a.all()
	if len(recs) != 1 {
		t.Fatalf("got %d audit records, want 1: %+v", len(recs), recs)
	}
	return recs[0]
}

// seenRequest is what a test server observed.
type seenRequest struct {
	Method, Path, RawQuery, Host, Proto string
	Header                              http.Header
	Body                                []byte
}

// recorder is a test server that records requests and answers with handle.
type recorder struct {
	mu     sync.Mutex
	seen   []seenRequest
	handle func(w http.ResponseWriter, r *http.Request, n int)
	*httptest.Server
}

func newRecorder(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int)) *recorder {
	t.Helper()
	rc := &recorder{handle: handle}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *recorder) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.seen = append(rc.seen, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Proto, r.Header.Clone(), body})
	n := len(rc.seen)
	rc.mu.Unlock()
	if rc.handle == nil {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data":{}}`)
		return
	}
	rc.handle(w, r, n)
}

func (rc *recorder) requests() []seenRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]seenRequest(nil), rc.seen...)
}

// testEnv bundles a client with its clock and audit log.
type testEnv struct {
	c     *Client
	clock *fakeClock
	audit *auditLog
}

// newTestClient returns a client for baseURL with the test token, a fake
// clock and an audit log; mod may adjust the Config first.
func newTestClient(t *testing.T, baseURL string, mod func(*Config)) testEnv {
	t.Helper()
	env := testEnv{clock: newFakeClock(), audit: &auditLog{}}
	cfg := Config{
		BaseURL: baseURL,
		Token:   secret.New(testToken),
		Audit:   env.audit.add,
		hooks:   egresshook.Hooks{Sleep: env.clock.Sleep, Now: env.clock.Now},
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%q): %v", baseURL, err)
	}
	t.Cleanup(c.transport.CloseIdleConnections)
	env.c = c
	return env
}

func wantError(t *testing.T, resp abi.HTTPResponse, code abi.Code, contains string) {
	t.Helper()
	if resp.Error == nil {
		t.Fatalf("got response status %d, want error %s", resp.Status, code)
	}
	if resp.Error.Code != code {
		t.Fatalf("error code = %s (%s), want %s", resp.Error.Code, resp.Error.Message, code)
	}
	if !strings.Contains(resp.Error.Message, contains) {
		t.Fatalf("error message %q does not contain %q", resp.Error.Message, contains)
	}
	if resp.Status != 0 || resp.Body != nil || resp.Headers != nil {
		t.Fatalf("error response also carries response fields: %+v", resp)
	}
}

func wantStatus(t *testing.T, resp abi.HTTPResponse, status int) {
	t.Helper()
	if resp.Error != nil {
		t.Fatalf("unexpected error: %v", resp.Error)
	}
	if resp.Status != status {
		t.Fatalf("status = %d, want %d (body %q)", resp.Status, status, resp.Body)
	}
}

// noLeak fails if s contains the token.
func noLeak(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(s, testToken) {
		t.Fatalf("%s leaks the token: %q", what, s)
	}
}

func get(path string) abi.HTTPRequest { return abi.HTTPRequest{Method: http.MethodGet, Path: path} }
