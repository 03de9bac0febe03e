package segment

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
)

// memSession is an in-memory guest.Session.
type memSession struct {
	mu   sync.Mutex
	data map[string][]byte
	gets int
	// getsOf counts reads per key.
	getsOf map[string]int
}

func newMemSession() *memSession {
	return &memSession{data: map[string][]byte{}, getsOf: map[string]int{}}
}

func (s *memSession) Get(_ context.Context, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	s.getsOf[key]++
	v, ok := s.data[key]
	return append([]byte(nil), v...), ok, nil
}

func (s *memSession) Set(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = append([]byte(nil), value...)
	return nil
}

func (s *memSession) delete(prefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.data {
		if strings.HasPrefix(k, prefix) {
			delete(s.data, k)
		}
	}
}

func (s *memSession) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.data[key]
	return ok
}

// logSink records log messages.
type logSink struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logSink) logger() guest.Logger {
	return func(level guest.LogLevel, msg string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.msgs = append(l.msgs, fmt.Sprintf("%d %s", level, msg))
	}
}

func (l *logSink) contains(level guest.LogLevel, sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	prefix := fmt.Sprintf("%d ", level)
	for _, m := range l.msgs {
		if strings.HasPrefix(m, prefix) && strings.Contains(m, sub) {
			return true
		}
	}
	return false
}

func (l *logSink) count(level guest.LogLevel, sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	prefix := fmt.Sprintf("%d ", level)
	n := 0
	for _, m := range l.msgs {
		if strings.HasPrefix(m, prefix) && strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

// fakeHTTP answers requests from a table keyed by exact path (with query);
// unknown paths get a 404 envelope. It records every path requested.
type fakeHTTP struct {
	mu     sync.Mutex
	routes map[string]abi.HTTPResponse
	errs   map[string]error
	paths  []string
}

func newFakeHTTP() *fakeHTTP {
	return &fakeHTTP{routes: map[string]abi.HTTPResponse{}, errs: map[string]error{}}
}

func (f *fakeHTTP) json(path string, status int, body string) {
	f.routes[path] = abi.HTTPResponse{Status: status, Body: []byte(body), Headers: map[string][]string{"Content-Type": {"application/json"}}}
}

func (f *fakeHTTP) Do(_ context.Context, req abi.HTTPRequest) (abi.HTTPResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths = append(f.paths, req.Path)
	if strings.Contains(req.Path, "://") || !strings.HasPrefix(req.Path, "/") {
		return abi.HTTPResponse{}, abi.Errorf(abi.CodeEgressDenied, "absolute URL %q", req.Path)
	}
	if err, ok := f.errs[req.Path]; ok {
		return abi.HTTPResponse{}, err
	}
	if r, ok := f.routes[req.Path]; ok {
		return r, nil
	}
	return abi.HTTPResponse{Status: 404, Body: []byte(`{"errors":[{"type":"NotFound","message":"Resource not found"}]}`)}, nil
}

func (f *fakeHTTP) requested() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

// testEnv bundles an Env with its parts.
type testEnv struct {
	env     guest.Env
	session *memSession
	logs    *logSink
}

func newTestEnv(h guest.HTTP) testEnv {
	s, l := newMemSession(), &logSink{}
	return testEnv{env: guest.Env{HTTP: h, Session: s, Log: l.logger()}, session: s, logs: l}
}

// wantCode fails unless err carries code.
func wantCode(t *testing.T, err error, code abi.Code) *abi.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %s", code)
	}
	e := abi.AsError(err)
	if e.Code != code {
		t.Fatalf("got code %s (%v), want %s", e.Code, err, code)
	}
	return e
}

// grantKey renders a grant as "<entitlement id> -> <principal>".
func grantKey(g abi.Grant) string {
	return fmt.Sprintf("%s:%s:%s -> %s:%s", g.Entitlement.Resource.Type, g.Entitlement.Resource.ID, g.Entitlement.Slug, g.Principal.Type, g.Principal.ID)
}

func ws1() *abi.ResourceID { return &abi.ResourceID{Type: typeWorkspace, ID: "ws1"} }
