package segmentsim

import (
	"crypto/subtle"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options tunes the server's non-functional behaviour.
type Options struct {
	// Latency is added to every request (cut short if the client gives up).
	Latency time.Duration
	// ReadLimitPerMinute limits, per token, all requests that are not IAM
	// writes; 0 = unlimited.
	ReadLimitPerMinute int
	// WriteLimitPerMinute limits, per token, the IAM writes of
	// Segment's Rate Limits page; 0 = 60 (the real value); <0 = unlimited.
	WriteLimitPerMinute int
	// FailureRate is the probability of a random 500/502/503 on any request,
	// drawn from a PRNG seeded with FailureSeed, so a sequential run fails on
	// the same requests every time.
	FailureRate float64
	FailureSeed int64
	// RateWindow is the length of a rate-limit window; 0 = one minute,
	// Segment's. Tests shorten it to exercise many windows quickly.
	RateWindow time.Duration
	// Now is the clock for rate-limit windows; nil = time.Now.
	Now func() time.Time
}

// Server serves the fake API over a Workspace. It is safe for concurrent
// use: state is guarded by a RWMutex, reads share it.
type Server struct {
	mu    sync.RWMutex
	ws    *Workspace
	idx   *index
	ids   *idGen // policy ids, guarded by mu (write lock)
	token string

	opts    Options
	limiter *rateLimiter
	faults  faultSet

	failMu   sync.Mutex
	failRand *rand.Rand

	recMu   sync.Mutex
	records []RequestRecord
}

// RequestRecord is what the server remembers about one request.
type RequestRecord struct {
	Method, Path, RawQuery string
	// Status is the HTTP status sent (499 if the client went away during
	// the simulated latency).
	Status int
	// Authorization is the raw header value, so tests can check token
	// injection.
	Authorization string
}

// statusClientClosed is nginx's convention for "client closed request".
const statusClientClosed = 499

// NewServer returns a server over ws. The server owns ws from then on and
// mutates it on writes; use Snapshot to look at it (or pass ws.Clone() to
// keep the original). A nil ws means Generate(Config{}).
func NewServer(ws *Workspace, opts Options) *Server {
	if ws == nil {
		ws = Generate(Config{})
	}
	token := ws.Token
	if token == "" {
		token = DefaultToken
	}
	h := fnv.New64a()
	h.Write([]byte(ws.ID))
	s := &Server{
		ws:       ws,
		token:    token,
		opts:     opts,
		limiter:  newRateLimiter(opts),
		ids:      newIDGen(rand.New(rand.NewPCG(h.Sum64(), 0x9011c1))),
		failRand: rand.New(rand.NewPCG(uint64(opts.FailureSeed), 0xfa11)),
	}
	s.reindex()
	return s
}

// Snapshot returns a deep copy of the current state; safe to call while
// requests are being served.
func (s *Server) Snapshot() *Workspace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ws.Clone()
}

// Requests returns a copy of the records of all requests served since the
// start or the last ResetRequests, in completion order.
func (s *Server) Requests() []RequestRecord {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	return append([]RequestRecord(nil), s.records...)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.records = nil
}

// RequestCount returns the number of recorded requests.
func (s *Server) RequestCount() int {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	return len(s.records)
}

// statusWriter remembers the status for the request record.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// ServeHTTP implements http.Handler. The pipeline mirrors the real service
// from the outside in: network latency, the rate limiter (keyed by the
// presented Authorization value; it counts every request, failed ones too),
// authentication, random infrastructure failures, injected faults, then the
// API itself. So injected faults hit only authenticated requests that got
// past the limiter.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		s.recMu.Lock()
		s.records = append(s.records, RequestRecord{
			Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			Status: sw.status, Authorization: r.Header.Get("Authorization"),
		})
		s.recMu.Unlock()
	}()

	if !s.sleep(r) {
		sw.status = statusClientClosed
		return
	}

	segs, ok := splitPath(r.URL.Path)
	class := classRead
	if ok && isIAMWrite(r.Method, segs) {
		class = classWrite
	}
	authz := r.Header.Get("Authorization")
	d := s.limiter.take(authz, class)
	if d.limited {
		setRateHeaders(sw.Header(), d.now, d.consumed, d.limit-d.consumed, d.reset)
	}
	if !d.allowed {
		writeTooManyRequests(sw, msUntil(d.now, d.reset), d.consumed)
		return
	}

	if !s.authorized(authz) {
		writeUnauthorized(sw)
		return
	}

	if status, fail := s.randomFailure(); fail {
		writeStatus(sw, status)
		return
	}

	if f, hit := s.faults.take(r.Method, r.URL.Path); hit {
		switch f.kind {
		case faultStatus:
			writeStatus(sw, f.status)
			return
		case faultRateLimit:
			consumed, now := s.limiter.current(authz, class)
			ms := int64(max(0, f.msBeforeNext))
			setRateHeaders(sw.Header(), now, consumed, 0, now.Add(time.Duration(ms)*time.Millisecond))
			writeTooManyRequests(sw, ms, consumed)
			return
		case faultReset:
			// net/http drops the connection without a response.
			panic(http.ErrAbortHandler)
		case faultDelay:
			t := time.NewTimer(f.delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		case faultMalformed:
			buf := &bufferWriter{header: http.Header{}}
			s.route(buf, r, segs, ok)
			sw.Header().Set("Content-Type", "application/json")
			sw.WriteHeader(http.StatusOK)
			_, _ = sw.Write(truncateJSON(buf.body.Bytes()))
			return
		}
	}

	s.route(sw, r, segs, ok)
}

// sleep applies Options.Latency; false if the request was cancelled first.
func (s *Server) sleep(r *http.Request) bool {
	if s.opts.Latency <= 0 {
		return true
	}
	t := time.NewTimer(s.opts.Latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// authorized checks "Bearer <token>" (scheme case-insensitive, as RFC 7235
// says) in constant time.
func (s *Server) authorized(authz string) bool {
	scheme, tok, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.token)) == 1
}

// randomFailure draws from the failure PRNG; one draw per request keeps the
// sequence reproducible for sequential clients.
func (s *Server) randomFailure() (int, bool) {
	if s.opts.FailureRate <= 0 {
		return 0, false
	}
	s.failMu.Lock()
	x, pick := s.failRand.Float64(), s.failRand.IntN(3)
	s.failMu.Unlock()
	if x >= s.opts.FailureRate {
		return 0, false
	}
	return []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}[pick], true
}

// splitPath splits "/a/b" into ["a","b"] ("/" is the empty list). Paths
// with empty segments ("//users", "/users/") are not routes of the API.
func splitPath(p string) ([]string, bool) {
	if p == "/" || p == "" {
		return nil, true
	}
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	segs := strings.Split(p[1:], "/")
	for _, seg := range segs {
		if seg == "" {
			return nil, false
		}
	}
	return segs, true
}
