package segmentsim

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"time"
)

type faultKind int

const (
	faultStatus faultKind = iota
	faultRateLimit
	faultMalformed
	faultReset
	faultDelay
)

// fault is one armed fault; remaining counts the requests it still hits.
type fault struct {
	kind         faultKind
	method       string
	pathPrefix   string
	status       int
	msBeforeNext int
	delay        time.Duration
	remaining    int
}

// faultSet holds armed faults in arming order; the first match wins, so
// faults armed for the same path fire one after another.
type faultSet struct {
	mu     sync.Mutex
	faults []*fault
}

func (fs *faultSet) add(f *fault) {
	if f.remaining <= 0 {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.faults = append(fs.faults, f)
}

func (fs *faultSet) clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.faults = nil
}

// take consumes one hit of the first fault matching the request.
func (fs *faultSet) take(method, path string) (fault, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, f := range fs.faults {
		if (f.method == "" || strings.EqualFold(f.method, method)) && strings.HasPrefix(path, f.pathPrefix) {
			f.remaining--
			if f.remaining == 0 {
				fs.faults = append(fs.faults[:i:i], fs.faults[i+1:]...)
			}
			return *f, true
		}
	}
	return fault{}, false
}

// InjectStatus makes the next count requests whose path (without query)
// starts with pathPrefix and whose method matches (""= any) fail with
// status. Error statuses get the errors envelope, except 502, which gets the
// HTML page a load balancer would send.
func (s *Server) InjectStatus(method, pathPrefix string, status, count int) {
	s.faults.add(&fault{kind: faultStatus, method: method, pathPrefix: pathPrefix, status: status, remaining: count})
}

// InjectRateLimit makes the next count matching requests answer 429 with the
// documented body (data.msBeforeNext = msBeforeNext) and the X-RateLimit-*
// and Retry-After headers, independently of the real limiter.
func (s *Server) InjectRateLimit(method, pathPrefix string, count int, msBeforeNext int) {
	s.faults.add(&fault{kind: faultRateLimit, method: method, pathPrefix: pathPrefix, msBeforeNext: msBeforeNext, remaining: count})
}

// InjectMalformed makes the next count matching requests answer 200 with a
// truncated JSON body. The request is still executed (a write still takes
// effect), modelling a response cut off on the way back.
func (s *Server) InjectMalformed(method, pathPrefix string, count int) {
	s.faults.add(&fault{kind: faultMalformed, method: method, pathPrefix: pathPrefix, remaining: count})
}

// InjectReset makes the next count matching requests end with the
// connection dropped before any response, as a crashing proxy would. The
// request is not executed.
func (s *Server) InjectReset(method, pathPrefix string, count int) {
	s.faults.add(&fault{kind: faultReset, method: method, pathPrefix: pathPrefix, remaining: count})
}

// InjectDelay makes the next count matching requests wait d (or until the
// client gives up) before they are served normally: a slow upstream.
func (s *Server) InjectDelay(method, pathPrefix string, count int, d time.Duration) {
	s.faults.add(&fault{kind: faultDelay, method: method, pathPrefix: pathPrefix, delay: d, remaining: count})
}

// ClearFaults disarms every injected fault.
func (s *Server) ClearFaults() { s.faults.clear() }

// bufferWriter captures a handler's output so it can be mangled.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) WriteHeader(status int)      { b.status = status }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.body.Write(p) }

// truncateJSON cuts a JSON document to a strict prefix (at most half of it),
// which is never valid JSON for an object or array.
func truncateJSON(body []byte) []byte {
	body = bytes.TrimSpace(body)
	if len(body) < 2 {
		return []byte(`{"data":`)
	}
	return body[:len(body)/2]
}
