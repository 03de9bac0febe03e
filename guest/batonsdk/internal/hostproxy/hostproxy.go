// Package hostproxy gives a baton-sdk guest's HTTP clients a network: an
// HTTP proxy, inside the guest, that hands every request to the host's
// egress as an abi.HTTPRequest naming its origin.
//
// wasip1 has no sockets, but Go's net package keeps an in-process network
// there (net_fake.go) that net.Dialer dials and net.Listen listens on, and
// net/http transports, uhttp's and http.DefaultTransport included, send
// their requests through the proxy that HTTPS_PROXY and HTTP_PROXY name.
// So the guest kit listens on that network and points the variables at
// the listener: an http:// request arrives in absolute form, and an
// https:// one as a CONNECT, after which the proxy ends the connector's
// TLS with a certificate for the requested host, issued by a CA made for
// this instance and trusted as the guest's root. The real TLS session,
// and every check of where a request may go, is the host's; the guest
// holds no socket, no real certificate and no credential.
//
// A connection's requests are answered one at a time (HTTP/1.1; the proxy
// offers no HTTP/2), but requests of several connections that are in
// flight together go to the host as one batch, which the host sends
// concurrently within the tenant's limits.
package hostproxy

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/baton-runner/baton-runner/abi"
)

// Sender sends requests to the host and returns response i for request i
// (guest.DoAll over the host's baton_http_batch in the guest; a fake in
// tests).
type Sender func(reqs []abi.HTTPRequest) []abi.HTTPResponse

// maxRequestBody bounds a request body the proxy buffers: the host's
// reply cap, since no API call a connector makes sends more.
const maxRequestBody = abi.MaxBatchReplyBytes

// Proxy is the in-guest proxy.
type Proxy struct {
	ln    net.Listener
	roots *x509.CertPool
	batch batcher

	mu      sync.Mutex
	ca      *x509.Certificate
	caKey   crypto.Signer
	leafKey crypto.Signer
	leaves  map[string]*tls.Certificate
}

// Listen starts a proxy on addr ("127.0.0.1:0" picks a port) that sends
// requests with send. Its CA is made on the first CONNECT, so an instance
// that makes no request pays nothing for it; Roots is the pool it is
// added to.
func Listen(addr string, send Sender) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("hostproxy: listening on the guest's in-process network: %w", err)
	}
	return &Proxy{ln: ln, roots: x509.NewCertPool(), batch: batcher{send: send}, leaves: map[string]*tls.Certificate{}}, nil
}

// URL is the proxy's address, for HTTPS_PROXY and HTTP_PROXY.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Roots is the pool the proxy's CA is added to when made: the guest's
// trusted roots.
func (p *Proxy) Roots() *x509.CertPool { return p.roots }

// Serve accepts connections until the listener is closed.
func (p *Proxy) Serve() error {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go p.serveConn(c)
	}
}

// Close stops the proxy.
func (p *Proxy) Close() error { return p.ln.Close() }

func (p *Proxy) serveConn(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		// http://: the request names its origin in absolute form.
		p.serveHTTP(c, br, "", req)
		return
	}
	host, port, err := net.SplitHostPort(req.Host)
	if err != nil {
		writeError(c, req, http.StatusBadRequest, "bad_request", fmt.Sprintf("CONNECT to %q: want host:port", req.Host))
		return
	}
	cfg, err := p.tlsConfig(host)
	if err != nil {
		writeError(c, req, http.StatusBadGateway, "proxy_internal_error", err.Error())
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	tc := tls.Server(&bufferedConn{Conn: c, r: br}, cfg)
	if err := tc.Handshake(); err != nil {
		return
	}
	defer tc.Close()
	origin := "https://" + host
	if port != "443" {
		origin = "https://" + net.JoinHostPort(host, port)
	}
	p.serveHTTP(tc, bufio.NewReader(tc), origin, nil)
}

// serveHTTP answers the requests of one connection (of a CONNECT tunnel
// to origin, or, with origin "", of absolute-form requests) until the
// client closes it or asks to.
func (p *Proxy) serveHTTP(w io.Writer, br *bufio.Reader, origin string, req *http.Request) {
	for {
		if req == nil {
			var err error
			if req, err = http.ReadRequest(br); err != nil {
				return
			}
		}
		hreq, problem := toHost(req, origin)
		if problem != "" {
			writeError(w, req, http.StatusBadRequest, "bad_request", problem)
			return
		}
		if err := writeResponse(w, req, p.batch.do(hreq)); err != nil || req.Close {
			return
		}
		req = nil
	}
}

// toHost turns req into the host's form, or says why it cannot.
func toHost(req *http.Request, origin string) (abi.HTTPRequest, string) {
	path := req.URL.RequestURI()
	if origin == "" {
		if !req.URL.IsAbs() || req.URL.Scheme != "http" || req.URL.Host == "" {
			return abi.HTTPRequest{}, fmt.Sprintf("%s %s: a proxy request names an http:// URL", req.Method, req.URL.Path)
		}
		origin = "http://" + req.URL.Host
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxRequestBody+1))
	switch {
	case err != nil:
		return abi.HTTPRequest{}, fmt.Sprintf("%s %s: reading the request body: %v", req.Method, req.URL.Path, err)
	case len(body) > maxRequestBody:
		return abi.HTTPRequest{}, fmt.Sprintf("%s %s: request body over %d bytes", req.Method, req.URL.Path, maxRequestBody)
	case len(body) == 0:
		body = nil
	}
	h := req.Header.Clone()
	for k := range h {
		if strings.HasPrefix(k, "Proxy-") {
			delete(h, k) // for the proxy, which is us
		}
	}
	return abi.HTTPRequest{Origin: origin, Method: req.Method, Path: path, Headers: h, Body: body}, ""
}

// writeResponse answers req with the host's response; a request the host
// refused or could not complete is answered with the HTTP status a client
// library acts on (see statusFor) and the host's message in the body and
// in a Proxy-Status header (RFC 9209), so that the connector's error
// says what happened.
func writeResponse(w io.Writer, req *http.Request, r abi.HTTPResponse) error {
	if r.Error != nil {
		status, kind := statusFor(r.Error.Code)
		resp := errorResponse(req, status, kind, "baton-runner: "+r.Error.Message)
		if r.Error.RetryAfter != nil {
			secs := max(1, int(time.Until(*r.Error.RetryAfter).Round(time.Second)/time.Second))
			resp.Header.Set("Retry-After", strconv.Itoa(secs))
		}
		return resp.Write(w)
	}
	resp := &http.Response{
		StatusCode: r.Status, ProtoMajor: 1, ProtoMinor: 1, Request: req, Close: req.Close,
		Header: http.Header(r.Headers), ContentLength: int64(len(r.Body)), Body: io.NopCloser(bytes.NewReader(r.Body)),
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	return resp.Write(w)
}

// statusFor maps a host error to the status a connector's HTTP library
// treats alike: uhttp and baton-sdk retry 429 after Retry-After and 502
// as unavailable, and do not retry 403.
func statusFor(code abi.Code) (int, string) {
	switch code {
	case abi.CodeEgressDenied:
		return http.StatusForbidden, "destination_ip_prohibited"
	case abi.CodeRateLimited:
		return http.StatusTooManyRequests, "http_response_incomplete"
	default:
		return http.StatusBadGateway, "destination_unavailable"
	}
}

func writeError(w io.Writer, req *http.Request, status int, kind, msg string) {
	_ = errorResponse(req, status, kind, "baton-runner: "+msg).Write(w)
}

func errorResponse(req *http.Request, status int, kind, msg string) *http.Response {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Proxy-Status", fmt.Sprintf("baton-runner; error=%s; details=%s", kind, strconv.Quote(msg)))
	return &http.Response{
		StatusCode: status, ProtoMajor: 1, ProtoMinor: 1, Request: req, Close: req.Close, Header: h,
		ContentLength: int64(len(msg)), Body: io.NopCloser(strings.NewReader(msg)),
	}
}

// tlsConfig is the server side of the connector's TLS to host.
func (p *Proxy) tlsConfig(host string) (*tls.Config, error) {
	leaf, err := p.leaf(host)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{*leaf},
		// HTTP/1.1 only: the proxy answers one request per connection
		// at a time, and HTTP/2's framing would only add work.
		NextProtos: []string{"http/1.1"},
		MinVersion: tls.VersionTLS12,
		// Both ends run in the guest: the cheapest key exchange.
		CurvePreferences: []tls.CurveID{tls.X25519},
	}, nil
}

// leaf returns the certificate for host, making the CA first if needed.
func (p *Proxy) leaf(host string) (*tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.leaves[host]; c != nil {
		return c, nil
	}
	if p.ca == nil {
		if err := p.makeCA(); err != nil {
			return nil, err
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(len(p.leaves) + 2)),
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, p.leafKey.Public(), p.caKey)
	if err != nil {
		return nil, fmt.Errorf("hostproxy: certificate for %s: %w", host, err)
	}
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: p.leafKey}
	p.leaves[host] = c
	return c, nil
}

// makeCA makes the instance's CA and the key its leaves share, and trusts
// the CA. The keys never leave the instance.
func (p *Proxy) makeCA() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "baton-runner guest proxy"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	p.ca, p.caKey, p.leafKey = ca, caKey, leafKey
	p.roots.AddCert(ca)
	return nil
}

// bufferedConn reads first what the CONNECT's reader buffered past the
// request (a client may send its ClientHello without waiting).
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// batcher sends the requests that are in flight together as one batch:
// each request yields once before sending, so that the goroutines of the
// other connections can queue theirs; whoever finds requests queued
// sends them all.
type batcher struct {
	send    Sender
	mu      sync.Mutex
	pending []*call
}

type call struct {
	req  abi.HTTPRequest
	resp abi.HTTPResponse
	done chan struct{}
}

func (b *batcher) do(req abi.HTTPRequest) abi.HTTPResponse {
	c := &call{req: req, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	b.mu.Unlock()
	runtime.Gosched()
	for {
		b.mu.Lock()
		n := min(len(b.pending), abi.MaxBatchRequests)
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		if n == 0 {
			break
		}
		reqs := make([]abi.HTTPRequest, n)
		for i, c := range batch {
			reqs[i] = c.req
		}
		resps := b.send(reqs)
		for i, c := range batch {
			if i < len(resps) {
				c.resp = resps[i]
			} else {
				c.resp.Error = abi.Errorf(abi.CodeUnavailable, "the host answered %d of %d requests", len(resps), n)
			}
			close(c.done)
		}
	}
	<-c.done
	return c.resp
}
