package segmentsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// sim is a running simulator plus a tiny client for tests.
type sim struct {
	t     *testing.T
	srv   *Server
	ts    *httptest.Server
	token string
}

func newSim(t *testing.T, cfg Config, opts Options) *sim {
	t.Helper()
	srv := NewServer(Generate(cfg), opts)
	ts := httptestServer(t, srv)
	tok := cfg.Token
	if tok == "" {
		tok = DefaultToken
	}
	return &sim{t: t, srv: srv, ts: ts, token: tok}
}

func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

// resp is a decoded response.
type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any // nil if not JSON
}

func (r *resp) data() map[string]any {
	d, _ := r.body["data"].(map[string]any)
	return d
}

// firstError returns errors[0] of an error envelope.
func (r *resp) firstError() map[string]any {
	errs, _ := r.body["errors"].([]any)
	if len(errs) == 0 {
		return nil
	}
	e, _ := errs[0].(map[string]any)
	return e
}

func (s *sim) do(method, path string, body any, hdr ...string) *resp {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		if str, ok := body.(string); ok {
			rd = strings.NewReader(str)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				s.t.Fatal(err)
			}
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, s.ts.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := s.ts.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	out := &resp{status: res.StatusCode, header: res.Header, raw: raw}
	var m map[string]any
	if json.Unmarshal(raw, &m) == nil {
		out.body = m
	}
	return out
}

func (s *sim) get(path string) *resp { s.t.Helper(); return s.do(http.MethodGet, path, nil) }

// mustStatus fails unless r has the status; it also checks the envelope
// invariant (exactly one of data/errors) on JSON responses.
func mustStatus(t *testing.T, r *resp, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
	if r.body != nil {
		_, hasData := r.body["data"]
		_, hasErrs := r.body["errors"]
		if hasData == hasErrs {
			t.Fatalf("envelope must have exactly one of data/errors: %s", r.raw)
		}
		if hasErrs != (status >= 400) {
			t.Fatalf("status %d with body %s", status, r.raw)
		}
	}
}

// mustValidation asserts a 422 ValidationFailure naming field.
func mustValidation(t *testing.T, r *resp, field string) {
	t.Helper()
	mustStatus(t, r, http.StatusUnprocessableEntity)
	e := r.firstError()
	if e["type"] != "ValidationFailure" || e["field"] != field || e["status"] != float64(422) {
		t.Fatalf("want ValidationFailure on %q, got %s", field, r.raw)
	}
}

func mustNotFound(t *testing.T, r *resp) {
	t.Helper()
	mustStatus(t, r, http.StatusNotFound)
	if e := r.firstError(); e["type"] != "NotFound" {
		t.Fatalf("want NotFound envelope, got %s", r.raw)
	}
}

func list(m map[string]any, key string) []any {
	l, _ := m[key].([]any)
	return l
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// fakeClock is a controllable Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// smallConfig is a quick workspace for route tests.
func smallConfig() Config {
	cfg := DefaultConfig(60)
	cfg.Seed = 7
	return cfg
}
