// Package fakec1 is a fake ConductorOne API host for service-mode tests.
//
// It speaks the protocol baton-sdk's service-mode client (pkg/tasks/c1api
// and pkg/ugrpc) uses, over real TLS and real gRPC, so that client can be
// pointed at it unmodified: an OAuth token endpoint that verifies the
// client's signed JWT assertion, and BatonService (Hello, GetTask, GetTasks,
// Heartbeat, FinishTask, UploadAsset) behind bearer-token checks. Tests queue
// tasks and then inspect what the client reported.
//
// The client trusts the fake through SSL_CERT_FILE, which Go reads once per
// process; see Server.CAFile.
package fakec1

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/conductorone/baton-sdk/pb/c1/connectorapi/baton/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Server is a fake ConductorOne: one TLS listener on 127.0.0.1 serving the
// OAuth token endpoint (POST /auth/v1/token) and BatonService over gRPC
// (HTTP/2), like the real API host. All methods are safe for concurrent use.
type Server struct {
	// log receives the server's errors as they happen (a test's Log);
	// misuse reports a caller's mistake (a test's Errorf). Both are called
	// under mu and only until the server stops.
	log, misuse func(args ...any)
	host        string
	caFile      string
	clientID    string
	secret      string
	wrongSecret string
	clientPub   ed25519.PublicKey
	audience    string

	httpSrv *http.Server
	grpcSrv *grpc.Server

	mu sync.Mutex
	// changed is closed and replaced on every observable state change, so
	// the Wait methods can block without polling.
	changed       chan struct{}
	stopped       bool
	tokens        map[string]bool
	tokenRequests int
	errs          []error
	hellos        []*v1.BatonServiceHelloRequest
	queue         []string
	tasks         map[string]*taskState
}

// Start starts a server for a test (New), logging its errors to t and
// stopping it via t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatalf("fakec1: %v", err)
	}
	s.log, s.misuse = t.Log, func(args ...any) { t.Error(args...) }
	t.Cleanup(s.Close)
	return s
}

// New generates a server certificate (SANs localhost, 127.0.0.1) signed by
// a CA whose PEM it writes to dir, generates an Ed25519 client key pair
// and the matching client secret, and starts serving. Errors are kept for
// Errors; Close stops the server.
func New(dir string) (*Server, error) {
	ca, err := sharedCA()
	if err != nil {
		return nil, err
	}
	cert, err := ca.Server(serverHosts...)
	if err != nil {
		return nil, err
	}
	caFile := filepath.Join(dir, "fakec1-ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		return nil, fmt.Errorf("writing CA file: %w", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	_, otherPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening: %w", err)
	}

	s := &Server{
		log:         func(...any) {},
		host:        lis.Addr().String(),
		caFile:      caFile,
		secret:      encodeClientSecret(priv),
		wrongSecret: encodeClientSecret(otherPriv),
		clientPub:   pub,
		// The SDK strips the port from the client ID's host to form the JWT
		// audience, so the audience is always the bare IP.
		audience: "127.0.0.1",
		changed:  make(chan struct{}),
		tokens:   map[string]bool{},
		tasks:    map[string]*taskState{},
	}
	s.misuse = func(args ...any) { s.errs = append(s.errs, errors.New(fmt.Sprint(args...))) }
	// The port goes into the client ID as well as BATON_C1_API_HOST, so the
	// SDK reaches this server (token URL and gRPC address) even when the
	// environment variable is not set.
	s.clientID = "baton-runner-test@" + s.host + "/pcc"

	s.grpcSrv = grpc.NewServer(
		grpc.ChainUnaryInterceptor(s.unaryAuth),
		grpc.ChainStreamInterceptor(s.streamAuth),
	)
	v1.RegisterBatonServiceServer(s.grpcSrv, &batonService{s: s})

	s.httpSrv = &http.Server{
		Handler: http.HandlerFunc(s.route),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"h2", "http/1.1"},
			MinVersion:   tls.VersionTLS12,
		},
		ErrorLog: log.New(errorLogWriter{s}, "", 0),
	}
	go func() { _ = s.httpSrv.ServeTLS(lis, "", "") }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	_ = s.httpSrv.Close()
	s.grpcSrv.Stop()
}

// Host returns "127.0.0.1:<port>", the value for BATON_C1_API_HOST.
func (s *Server) Host() string { return s.host }

// CAFile returns the path of the CA's PEM, the value for SSL_CERT_FILE.
//
// Go reads SSL_CERT_FILE once per process, at the first certificate
// verification against system roots. An in-process client must therefore
// see it set before its first TLS handshake; later changes are ignored. All
// Servers in a process share one CA, so the first CAFile loaded trusts them
// all. A subprocess simply gets it through Env.
func (s *Server) CAFile() string { return s.caFile }

// ClientID returns "baton-runner-test@127.0.0.1:<port>/pcc". The SDK takes the
// token host from between '@' and '/', dials it (port included) and uses it
// without the port as the JWT audience.
func (s *Server) ClientID() string { return s.clientID }

// ClientSecret returns a valid client secret for ClientID.
func (s *Server) ClientSecret() string { return s.secret }

// WrongSecret returns a well-formed client secret for a different key; the
// token endpoint answers it with 401, which the SDK surfaces as
// codes.Unauthenticated.
func (s *Server) WrongSecret() string { return s.wrongSecret }

// Env returns the environment a baton-runner process needs to reach this
// server: BATON_CLIENT_ID, BATON_CLIENT_SECRET, BATON_C1_API_HOST and
// SSL_CERT_FILE, as KEY=value strings.
func (s *Server) Env() []string {
	return []string{
		"BATON_CLIENT_ID=" + s.clientID,
		"BATON_CLIENT_SECRET=" + s.secret,
		"BATON_C1_API_HOST=" + s.host,
		"SSL_CERT_FILE=" + s.caFile,
	}
}

// TokenRequests returns how many requests reached the token endpoint,
// accepted or not.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// Errors returns the protocol violations seen so far: rejected token
// requests, RPCs without a valid bearer token, requests failing the proto's
// validation rules, unknown task ids, checksum mismatches, and clients
// rejecting the server certificate. A happy-path test should expect none.
func (s *Server) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// Hellos returns copies of every Hello received, in order.
func (s *Server) Hellos() []*v1.BatonServiceHelloRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*v1.BatonServiceHelloRequest, len(s.hellos))
	for i, h := range s.hellos {
		out[i] = proto.CloneOf(h)
	}
	return out
}

// WaitHello blocks until at least one Hello has arrived or ctx ends.
func (s *Server) WaitHello(ctx context.Context) error {
	return s.wait(ctx, func() bool { return len(s.hellos) > 0 })
}

// wait blocks until cond, evaluated under s.mu, holds or ctx ends.
func (s *Server) wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok, ch := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notifyLocked wakes the waiters; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) recordErr(format string, args ...any) {
	err := fmt.Errorf("fakec1: "+format, args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err)
	s.notifyLocked()
	// testing.TB must not be used once the test has finished; stopped is
	// set at the start of cleanup, before the server goes away.
	if !s.stopped {
		s.log(err)
	}
}

// route splits the single port between gRPC and the token endpoint, as the
// real API host does behind its load balancer.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		s.grpcSrv.ServeHTTP(w, r)
		return
	}
	if r.URL.Path == tokenPath {
		s.handleToken(w, r)
		return
	}
	s.recordErr("unexpected HTTP request %s %s (proto %s)", r.Method, r.URL.Path, r.Proto)
	http.NotFound(w, r)
}

// authorize checks the bearer token the SDK's per-RPC credentials attach.
func (s *Server) authorize(ctx context.Context, method string) error {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) != 1 {
		s.recordErr("%s: %d authorization headers, want 1", method, len(vals))
		return status.Error(codes.Unauthenticated, "missing bearer token")
	}
	scheme, tok, _ := strings.Cut(vals[0], " ")
	s.mu.Lock()
	valid := s.tokens[tok]
	s.mu.Unlock()
	if !strings.EqualFold(scheme, "Bearer") || !valid {
		s.recordErr("%s: authorization %q is not a bearer token this server issued", method, vals[0])
		return status.Error(codes.Unauthenticated, "invalid bearer token")
	}
	return nil
}

// unaryAuth authorizes the call and applies the request's protoc-gen-validate
// rules, which the real service enforces (e.g. 27-character task ids).
func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := s.authorize(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	if err := s.validate(info.FullMethod, req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := s.authorize(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

func (s *Server) validate(method string, msg any) error {
	v, ok := msg.(interface{ Validate() error })
	if !ok {
		return nil
	}
	if err := v.Validate(); err != nil {
		s.recordErr("%s: request fails validation: %v", method, err)
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return nil
}

// errorLogWriter receives net/http's server log. A TLS alert from the client
// ("remote error: tls: bad certificate") is recorded, because it almost
// always means the client does not trust the CA (SSL_CERT_FILE unset, or read
// too late in the process). Other lines are only logged: a handshake cut
// short by EOF is normal when the SDK abandons a dial, e.g. a heartbeat in
// flight as its task ends.
type errorLogWriter struct{ s *Server }

func (w errorLogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	if strings.Contains(line, "TLS handshake error") && strings.Contains(line, "remote error") {
		w.s.recordErr("%s (does the client trust CAFile?)", line)
		return len(p), nil
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if !w.s.stopped {
		w.s.log("fakec1: http server: " + line)
	}
	return len(p), nil
}
