// Package egress is the host side of the sandbox's only network access: the
// guest names a method, a path and headers, and a Client sends the request
// to its one configured API origin. A Segment tenant has one Client; a
// baton-sdk guest's tenant has one per allowed origin, behind a Router
// that picks the Client by the origin the request names and refuses any
// other origin.
//
// The Client enforces the egress rules (path-only requests, exact origin,
// public IPs only, redirects returned to the guest unfollowed), injects the
// token after every check so the guest never sees it, or, for a baton-sdk
// guest, puts its secret configuration values in place of their
// placeholders, bounds time and response size, absorbs rate limiting and
// transient failures, and writes an audit Record per request that never
// holds headers, bodies, the token, secret values or the query.
package egress

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/internal/egresshook"
)

// Defaults for zero Config limits (documented on Config).
const (
	defaultDialTimeout           = 5 * time.Second
	defaultTLSHandshakeTimeout   = 10 * time.Second
	defaultResponseHeaderTimeout = 30 * time.Second
	defaultRequestTimeout        = 60 * time.Second
	defaultMaxResponseBytes      = 32 << 20
	defaultMaxRateLimitWait      = 60 * time.Second
	defaultMaxRetries            = 3
)

const (
	// retryBase starts the back-off after 5xx/transport errors: 200ms,
	// 400ms, 800ms, ..., each jittered ±50% and at most maxRetryWait.
	retryBase    = 200 * time.Millisecond
	maxRetryWait = 10 * time.Second
	// rateLimitBase starts the back-off after a 429 that names no wait:
	// 1s, 2s, 4s, ..., jittered ±50% and bounded like every 429 wait.
	rateLimitBase = time.Second
	userAgent     = "baton-runner"
)

// Config configures a Client for one tenant.
type Config struct {
	// BaseURL is the API origin: scheme://host[:port], no path other than
	// "/". https is required unless the host is loopback (127.0.0.1, ::1 or
	// localhost), where http is allowed for a local simulator.
	BaseURL string
	// Token is sent as "Authorization: Bearer <token>", added after all
	// checks. A zero Token sends no Authorization header.
	Token secret.Secret

	// Zero (or negative) durations and sizes mean the defaults: 5s, 10s,
	// 30s, 60s and 32 MiB in field order.
	DialTimeout           time.Duration // resolution + TCP connect
	TLSHandshakeTimeout   time.Duration
	ResponseHeaderTimeout time.Duration
	RequestTimeout        time.Duration // whole attempt, including reading the body
	MaxResponseBytes      int64         // larger bodies fail with CodeUnavailable

	// MaxRateLimitWait is the longest single host-side wait on a 429;
	// a longer wait, or waits adding up to five times it, is returned as
	// CodeRateLimited with RetryAfter.
	// Zero means the default; negative means never wait on the host.
	MaxRateLimitWait time.Duration
	// MaxRetries bounds retries of 5xx responses and transport errors for
	// idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS), after a
	// back-off from 200ms doubling, jittered ±50%, each wait at most 10s.
	// Zero means the default (3); negative means no retries.
	MaxRetries int
	// WritesPerMinute, when positive, spaces mutating requests (POST, PUT,
	// PATCH, DELETE, every attempt) evenly so that at most this many are
	// sent per minute.
	WritesPerMinute int
	// RequestsPerMinute, when positive, does the same for every request:
	// an operator's per-tenant budget of the API's shared rate limit.
	RequestsPerMinute int
	// MaxInFlight, when positive, bounds the attempts on the wire at once
	// (the tenant's max_in_flight); others wait for a slot. The bound
	// adapts: it halves on a 429 and grows back after answers, and every
	// request waits while a 429's wait runs (or is handed back as
	// CodeRateLimited if that wait is longer than it would wait out for
	// itself) or while the API's window is used up (see gate). Zero means
	// no bound on attempts.
	MaxInFlight int

	// Audit receives one Record per Do call (after retries and waits),
	// including refused requests. It must be safe for concurrent use.
	Audit func(Record)
	// OnWait, if set, is told before each wait the client makes on a
	// request's behalf: pacing, a 429, a retry back-off. It must be safe
	// for concurrent use and quick; it lets an operator see why a sync is
	// silent.
	OnWait func(Wait)
	// OnHeld, if set, is told of wall time during which at least one of
	// the client's requests was held by a rate limit (pacing, a 429, a
	// used-up window), in increments as it passes: their sum is that wall
	// time, however many requests were held at once. A sum of each
	// request's wait would count a second 32 times with 32 requests held.
	// It must be safe for concurrent use and quick.
	OnHeld func(time.Duration)

	// BaseURLSetting names where the operator sets BaseURL ("--base-url
	// (BATON_BASE_URL)", "base_url of tenant acme"), for the errors that
	// only a different base URL can fix; "" says "the base URL".
	BaseURLSetting string

	// ConnectTo, when set, is the "host:port" dialed instead of the
	// addresses the origin's host resolves to, as curl's --connect-to: it
	// runs a connector whose API origin is hard-coded against a fake or a
	// staging endpoint. Everything else still names the origin: the URL
	// and Host header, the name the certificate is verified against, the
	// egress checks and the audit records. The operator chose the address,
	// so it is dialed whatever its class (loopback, private), as an
	// IP-literal BaseURL is; a host name in it is resolved at each new
	// connection.
	ConnectTo string
	// ConnectToSetting names where the operator sets ConnectTo, for its
	// errors as BaseURLSetting does; "" says "connect-to address".
	ConnectToSetting string
	// RootCAs, when non-nil, verifies the origin's certificate instead of
	// the system's roots; LoadCABundle builds the system's roots plus an
	// operator's bundle.
	RootCAs *x509.CertPool
	// GuestCredentials says the guest authenticates itself (a baton-sdk
	// connector): its Authorization and Cookie headers are sent instead
	// of dropped. Token must then be zero.
	GuestCredentials bool
	// Secrets are the placeholders of the guest's secret configuration
	// fields. After every check, just before sending, each placeholder in
	// the request is replaced by its value, encoded for where it stands:
	// raw in a header value (Basic credentials are decoded and encoded
	// again), path- or query-escaped in the URL, query-escaped in a form
	// body and JSON-escaped in a JSON one; a placeholder in a body of
	// another type refuses the request. A value in a response body or in
	// the headers the guest sees reaches it as its placeholder.
	Secrets []Placeholder

	// hooks replace the clock and the resolver in tests of this module
	// (set through egresshook.Set).
	hooks egresshook.Hooks
}

func init() {
	egresshook.Register(func(cfg any, h egresshook.Hooks) {
		c := cfg.(*Config)
		if h.Sleep != nil {
			c.hooks.Sleep = h.Sleep
		}
		if h.Now != nil {
			c.hooks.Now = h.Now
		}
		if h.Resolver != nil {
			c.hooks.Resolver = h.Resolver
		}
	})
}

// Client sends guest requests to one origin. It is safe for concurrent use
// and reuses connections, so create one per tenant and keep it.
type Client struct {
	origin    origin
	token     secret.Secret
	hc        *http.Client
	transport *http.Transport
	dialer    *dialer

	requestTimeout time.Duration
	maxBytes       int64
	maxRLWait      time.Duration
	maxRetries     int

	writes, requests *pacer
	gate             *gate

	audit  func(Record)
	onWait func(Wait)
	onHeld func(time.Duration)
	held   *heldClock
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time

	// setting is Config.BaseURLSetting; answered is set once the origin has
	// answered any attempt (see unreachable). A pointer, so that a Client
	// value can still be printed (TestConfigAndClientNeverPrintToken).
	setting  string
	answered *atomic.Bool

	guestAuth bool
	secrets   *secretSet
	// connectSetting is Config.ConnectToSetting.
	connectSetting string
}

// New validates cfg and returns a Client. Its errors name the offending
// setting and how to fix it; they never contain the token.
func New(cfg Config) (*Client, error) {
	o, err := parseBaseURL(cfg.BaseURL, cfg.Token)
	if err != nil {
		return nil, err
	}
	if !cfg.Token.IsZero() && !validHeaderValue(cfg.Token.Reveal()) {
		return nil, errors.New("the token contains control characters (CR, LF, NUL, ...) that cannot be sent in an HTTP header; check how it was loaded")
	}
	if cfg.GuestCredentials && !cfg.Token.IsZero() {
		return nil, errors.New("a client takes a token or the guest's own credentials (GuestCredentials), not both: the token would replace the guest's Authorization")
	}
	secrets, err := newSecretSet(cfg.Secrets)
	if err != nil {
		return nil, err
	}
	var connect *connectTo
	if cfg.ConnectTo != "" {
		if connect, err = parseConnectTo(cfg.ConnectTo); err != nil {
			err.(*ConnectToError).Setting = cfg.ConnectToSetting
			return nil, err
		}
	}
	c := &Client{
		origin:         o,
		token:          cfg.Token,
		requestTimeout: orDefault(cfg.RequestTimeout, defaultRequestTimeout),
		maxBytes:       orDefault(cfg.MaxResponseBytes, defaultMaxResponseBytes),
		maxRLWait:      cfg.MaxRateLimitWait,
		maxRetries:     cfg.MaxRetries,
		writes:         newPacer(cfg.WritesPerMinute),
		requests:       newPacer(cfg.RequestsPerMinute),
		audit:          cfg.Audit,
		onWait:         cfg.OnWait,
		onHeld:         cfg.OnHeld,
		held:           &heldClock{},
		setting:        cfg.BaseURLSetting,
		answered:       new(atomic.Bool),
		secrets:        secrets,
		guestAuth:      cfg.GuestCredentials,
		connectSetting: cfg.ConnectToSetting,
		sleep:          cfg.hooks.Sleep,
		now:            cfg.hooks.Now,
	}
	switch {
	case c.maxRLWait == 0:
		c.maxRLWait = defaultMaxRateLimitWait
	case c.maxRLWait < 0:
		c.maxRLWait = 0
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = defaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	c.gate = newGate(cfg.MaxInFlight, c.maxRLWait)
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.setting == "" {
		c.setting = "the base URL"
	}
	if c.connectSetting == "" {
		c.connectSetting = "the connect-to address"
	}
	c.dialer = newDialer(o, cfg.hooks.Resolver, orDefault(cfg.DialTimeout, defaultDialTimeout))
	c.dialer.connect = connect
	c.transport = &http.Transport{
		// No proxy: an environment proxy would connect on our behalf and
		// bypass the IP checks in the dialer.
		Proxy:                  nil,
		DialContext:            c.dialer.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs},
		TLSHandshakeTimeout:    orDefault(cfg.TLSHandshakeTimeout, defaultTLSHandshakeTimeout),
		ResponseHeaderTimeout:  orDefault(cfg.ResponseHeaderTimeout, defaultResponseHeaderTimeout),
		ForceAttemptHTTP2:      true, // needed for HTTP/2 with a custom DialContext and TLS config
		MaxIdleConns:           16,
		MaxIdleConnsPerHost:    8,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
	// Every 3xx goes back to the guest unfollowed (with its Location), so
	// no request ever leaves for a URL the guest did not name.
	c.hc = &http.Client{Transport: c.transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	return c, nil
}

func orDefault[T time.Duration | int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Origin returns the configured origin as "scheme://host:port".
func (c *Client) Origin() string { return c.origin.String() }

var allowedMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// idempotentMethods may be retried after a 5xx or after an error once the
// request may have reached the server; POST and PATCH may not.
var idempotentMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPut: true,
	http.MethodDelete: true, http.MethodOptions: true,
}

// Do performs one guest request. It never panics and never returns a Go
// error: refusals come back as CodeEgressDenied, rate limits the host would
// not wait out as CodeRateLimited, and failures as CodeUnavailable in
// HTTPResponse.Error. Upstream 4xx and (after retries) 5xx responses are
// returned as responses.
func (c *Client) Do(ctx context.Context, req abi.HTTPRequest) (out abi.HTTPResponse) {
	if c == nil {
		return abi.HTTPResponse{Error: abi.Errorf(abi.CodeUnavailable, "egress: no client configured")}
	}
	start := c.now()
	rec := Record{Time: start, Method: logSafe(req.Method), Host: c.origin.hostport, Path: auditPath(req.Path)}
	defer func() {
		if r := recover(); r != nil {
			// A bug here must not take the host down; the panic value is
			// not logged as it may hold request data.
			out = abi.HTTPResponse{Error: abi.Errorf(abi.CodeUnknown, "egress: internal error")}
			rec.Error = "internal error (panic)"
		}
		rec.Duration = c.now().Sub(start)
		c.emit(rec)
	}()
	if ctx == nil {
		ctx = context.Background()
	}
	return c.do(ctx, req, &rec)
}

func (c *Client) do(ctx context.Context, req abi.HTTPRequest, rec *Record) abi.HTTPResponse {
	if req.Origin != "" {
		if o, ok := requestOrigin(req.Origin); !ok || o.String() != c.origin.String() {
			rec.Host = o.hostport
			if !ok {
				rec.Host = logSafe(req.Origin)
			}
			return c.deny(rec, originRefusal(req.Origin, o, ok, []string{c.origin.shown()}, c.secrets.requestFields(req)))
		}
	}
	if !allowedMethods[req.Method] {
		return c.deny(rec, fmt.Sprintf("method %q is not allowed; use one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS", rec.Method))
	}
	u, err := buildURL(c.origin, req.Path)
	if err != nil {
		return c.deny(rec, err.Error())
	}
	hdr, err := c.requestHeaders(req.Headers, len(req.Body) > 0)
	if err != nil {
		return c.deny(rec, err.Error())
	}
	// Last, so that every check above saw the placeholders, never a value.
	sent, err := c.secrets.apply(u, hdr, req.Body)
	if err != nil {
		return c.deny(rec, err.Error())
	}
	rec.Secrets = sent.n
	idempotent := idempotentMethods[req.Method]
	class := classOf(req.Method)
	// safeMsg keeps the query, the token and the secrets out of a message.
	safeMsg := func(msg string) string {
		for _, q := range []string{sent.url.RawQuery, u.RawQuery} {
			if q != "" {
				msg = strings.ReplaceAll(msg, q, "[QUERY]")
			}
		}
		return c.scrub(msg)
	}
	fail := func(code abi.Code, msg string) abi.HTTPResponse {
		msg = safeMsg(msg)
		rec.Error = msg
		return abi.HTTPResponse{Error: &abi.Error{Code: code, Message: msg}}
	}
	canceled := func(err error) abi.HTTPResponse {
		return fail(abi.CodeUnavailable, fmt.Sprintf("%s %s: request canceled: %v", req.Method, rec.Path, err))
	}

	var retries, limited int
	// A body read without error holds its length of the batch's budget
	// until it is returned or dropped.
	budget := batchBudgetFrom(ctx)
	retryWait := newBackOff(retryBase, maxRetryWait)
	limitWait := newBackOff(rateLimitBase, maxWait)
	// sleep waits d on the request's behalf, telling OnWait why first.
	var tookLast time.Duration
	sleep := func(kind WaitKind, reason string) func(context.Context, time.Duration) error {
		return func(ctx context.Context, d time.Duration) error {
			if c.onWait != nil {
				w := Wait{Kind: kind, Method: rec.Method, Path: rec.Path, Reason: reason, Wait: d, Attempt: rec.Attempts}
				if kind != WaitPacing {
					w.AttemptTook = tookLast
				}
				c.onWait(w)
			}
			if kind == WaitRetry || c.onHeld == nil {
				return c.sleep(ctx, d)
			}
			c.reportHeld(+1)
			defer c.reportHeld(-1)
			return c.sleep(ctx, d)
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return canceled(err)
		}
		for _, p := range []struct {
			p      *pacer
			reason string
		}{{c.requests, "request pacing (requests_per_minute)"}, {c.writerFor(req.Method), "write pacing (the API's write rate limit)"}} {
			waited, err := p.p.wait(ctx, c.now, sleep(WaitPacing, p.reason))
			if err != nil {
				return canceled(err)
			}
			rec.RateLimitWait += waited
		}
		var slot ticket
		for {
			t, hold, ok, err := c.gate.acquire(ctx, class, c.now)
			if err != nil {
				return canceled(err)
			}
			if ok {
				slot = t
				break
			}
			wait := max(0, hold.until.Sub(c.now()))
			if pastDeadline(ctx, wait) {
				resp := fail(abi.CodeRateLimited, fmt.Sprintf("%s %s: the API's rate limit leaves no time for this request before the call's deadline; retry in %s", req.Method, rec.Path, wait))
				resp.Error.RetryAfter = &hold.until
				return resp
			}
			if hold.after429 && (wait > c.maxRLWait || rec.RateLimitWait+wait > rateLimitWaits*c.maxRLWait) {
				resp := fail(abi.CodeRateLimited, fmt.Sprintf("%s %s: upstream rate limit (HTTP 429 to another request of the tenant) for longer than the host waits; retry in %s", req.Method, rec.Path, wait))
				resp.Error.RetryAfter = &hold.until
				return resp
			}
			if err := sleep(WaitRateLimit, hold.reason)(ctx, wait); err != nil {
				return canceled(err)
			}
			rec.RateLimitWait += wait
		}
		rec.Attempts++
		attemptStart := c.now()
		res := c.exchange(ctx, slot, req.Method, sent.url, sent.header, sent.body, limitWait)
		tookLast = c.now().Sub(attemptStart)
		rec.Status, rec.Bytes = res.status, int64(len(res.body))

		if res.err != nil {
			var d *denial
			if errors.As(res.err, &d) {
				return c.deny(rec, d.reason)
			}
			if ctx.Err() != nil {
				return canceled(ctx.Err())
			}
			if why, setting := c.unreachable(res.err); why != "" {
				// A wrong base URL: every retry, here and in baton-sdk
				// (which retries only Unavailable), would fail the same way.
				return fail(abi.CodeFailedPrecondition, fmt.Sprintf("%s %s: %s; check %s", req.Method, rec.Path, why, setting))
			}
			var de *dialError
			var pe *permanentError
			// Nothing was sent if the dial failed, so any method may retry.
			retryable := !errors.As(res.err, &pe) && (idempotent || errors.As(res.err, &de))
			if retryable && retries < c.maxRetries {
				retries++
				if err := sleep(WaitRetry, "retry after: "+safeMsg(res.err.Error()))(ctx, retryWait.next()); err != nil {
					return canceled(err)
				}
				continue
			}
			return fail(abi.CodeUnavailable, fmt.Sprintf("%s %s: %v", req.Method, rec.Path, res.err))
		}

		switch {
		case res.status == http.StatusTooManyRequests:
			// A 429 means the request was not processed, so every method
			// may be retried.
			budget.give(int64(len(res.body)))
			limited++
			until := res.retryAt
			wait := max(0, until.Sub(c.now()))
			if limited > maxRateLimitRetries || wait > c.maxRLWait || rec.RateLimitWait+wait > rateLimitWaits*c.maxRLWait || pastDeadline(ctx, wait) {
				resp := fail(abi.CodeRateLimited, fmt.Sprintf("%s %s: upstream rate limit (HTTP 429) after %d attempt(s); retry in %s", req.Method, rec.Path, rec.Attempts, wait))
				resp.Error.RetryAfter = &until
				return resp
			}
			if err := sleep(WaitRateLimit, "rate limited by the API (HTTP 429)")(ctx, wait); err != nil {
				return canceled(err)
			}
			rec.RateLimitWait += wait
			continue
		case res.status >= 500 && idempotent && retries < c.maxRetries:
			budget.give(int64(len(res.body)))
			retries++
			if err := sleep(WaitRetry, fmt.Sprintf("retry after HTTP %d", res.status))(ctx, retryWait.next()); err != nil {
				return canceled(err)
			}
			continue
		}
		headers := filterResponseHeaders(res.status, res.header)
		if c.guestAuth {
			headers = guestResponseHeaders(res.header)
		}
		c.secrets.scrubHeaders(headers)
		return abi.HTTPResponse{Status: res.status, Headers: headers, Body: res.body}
	}
}

// pastDeadline reports whether waiting d would outlive ctx; then the guest
// is better served by CodeRateLimited now than by a cancellation later.
func pastDeadline(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < d
}

// permanentError is a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

type result struct {
	status int
	header http.Header
	body   []byte
	err    error
	// at is when the headers arrived; retryAt is when a 429 said to send
	// again.
	at, retryAt time.Time
}

// exchange makes one attempt in the gate slot acquire gave it and frees the
// slot with what the answer teaches, a 429's wait included (limitWait
// backs off when the 429 names none). Waits the answer names count from
// when its headers arrived, as the API stated them then, not from when
// its body had been read. A panic on the way (Do recovers it) frees the
// slot too: a leaked one would shrink the tenant's bound on attempts for
// good.
func (c *Client) exchange(ctx context.Context, slot ticket, method string, u *url.URL, hdr http.Header, body []byte, limitWait *expBackOff) result {
	freed := false
	defer func() {
		if !freed {
			c.gate.release(slot, answer{})
		}
	}()
	res := c.attempt(ctx, method, u, hdr, body)
	if res.status != 0 {
		c.answered.Store(true)
	}
	var exact bool
	if res.status == http.StatusTooManyRequests {
		wait, ex, ok := rateLimitWait(res.body, res.header, res.at)
		if !ok {
			wait = limitWait.next()
		}
		res.retryAt, exact = res.at.Add(wait), ex
	}
	c.gate.release(slot, answer{status: res.status, header: res.header, at: res.at, pauseUntil: res.retryAt, exact: exact})
	freed = true
	return res
}

// attempt sends one HTTP request under RequestTimeout and reads the body
// with the size cap and, if ctx has one, within the batch's budget; a
// failed read gives back what it took of the budget.
func (c *Client) attempt(ctx context.Context, method string, u *url.URL, hdr http.Header, body []byte) result {
	actx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	// wrap explains a per-attempt timeout, which net/http reports only as
	// "context deadline exceeded".
	wrap := func(err error) error {
		if actx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("no complete response within %s: %w", c.requestTimeout, err)
		}
		return err
	}

	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body) // sets ContentLength and GetBody, so a retry can replay it
	}
	hreq, err := http.NewRequestWithContext(actx, method, u.String(), rd)
	if err != nil {
		return result{err: &permanentError{err}}
	}
	if !c.origin.matches(hreq.URL) {
		// buildURL guarantees this; checked again on the URL actually sent.
		return result{err: &denial{fmt.Sprintf("path would leave the API origin %s", c.origin)}}
	}
	hreq.Header = hdr.Clone()

	resp, err := c.hc.Do(hreq)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the URL: it carries the query
		}
		return result{err: wrap(err)}
	}
	defer resp.Body.Close()

	res := result{status: resp.StatusCode, header: resp.Header, at: c.now()}
	tooLarge := &permanentError{fmt.Errorf("response larger than %d bytes", c.maxBytes)}
	budget := batchBudgetFrom(ctx)
	// A HEAD response announces the GET body's length but carries none.
	if method != http.MethodHead {
		switch {
		case resp.ContentLength > c.maxBytes:
			res.err = tooLarge
			return res
		case resp.ContentLength > budget.remaining():
			res.err = &permanentError{budget.exceeded()}
			return res
		}
	}
	// The reader is the decompressed stream, so the caps also bound gzip bombs.
	br := &budgetReader{r: io.LimitReader(resp.Body, c.maxBytes+1), b: budget}
	res.body, err = io.ReadAll(br)
	switch {
	case errors.Is(err, errOverBudget):
		res.err = &permanentError{budget.exceeded()}
	case int64(len(res.body)) > c.maxBytes:
		res.err = tooLarge
	case err != nil:
		res.err = wrap(fmt.Errorf("reading response body: %w", err))
	}
	if res.err == nil {
		res.err = c.echoSecrets(&res, budget)
	}
	if res.err != nil {
		budget.give(br.taken)
	}
	if len(res.body) == 0 {
		res.body = nil
	}
	return res
}

func (c *Client) setAuth(h http.Header) {
	if !c.token.IsZero() {
		h.Set("Authorization", "Bearer "+c.token.Reveal())
	}
}

// echoSecrets replaces the secret values an API echoed in res's body by
// their placeholders, before any of it can reach the guest, and makes the
// batch budget hold the body's new length.
func (c *Client) echoSecrets(res *result, budget *BatchBudget) error {
	before := len(res.body)
	res.body = c.secrets.scrubBody(res.body)
	switch grown := int64(len(res.body) - before); {
	case grown > 0 && !budget.take(grown):
		return &permanentError{budget.exceeded()}
	case grown < 0:
		budget.give(-grown)
	}
	return nil
}

// scrub keeps the token and the secret values out of a message for the
// guest or the audit log.
func (c *Client) scrub(msg string) string {
	return c.secrets.scrubMessage(scrub(msg, c.token))
}

// deny records and returns a refusal under the egress rules.
func (c *Client) deny(rec *Record, reason string) abi.HTTPResponse {
	reason = c.scrub(reason)
	rec.Denied = reason
	return abi.HTTPResponse{Error: &abi.Error{Code: abi.CodeEgressDenied, Message: "egress denied: " + reason}}
}

// emit hands rec to the audit sink; a panicking sink must not escape Do.
func (c *Client) emit(rec Record) {
	if c.audit == nil {
		return
	}
	defer func() { _ = recover() }()
	c.audit(rec)
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
