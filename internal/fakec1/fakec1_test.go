package fakec1

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	v1 "github.com/conductorone/baton-sdk/pb/c1/connectorapi/baton/v1"
	"github.com/conductorone/baton-sdk/pkg/crypto"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	"github.com/conductorone/baton-sdk/pkg/tasks/c1api"
	"github.com/conductorone/baton-sdk/pkg/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const testHostID = "fakec1-test-host"

// clientEnv points this process's SDK client at s. SSL_CERT_FILE only takes
// effect if no TLS verification against system roots has happened yet in
// this process; the shared CA makes whichever CAFile was read first good for
// every Server.
func clientEnv(t *testing.T, s *Server) {
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("BATON_HOST_ID", testHostID)
}

func newTaskManager(t *testing.T, s *Server, secret string) c1api.BootstrappingTaskManager {
	t.Helper()
	tm, err := c1api.NewC1TaskManager(context.Background(), s.ClientID(), secret, t.TempDir(),
		false, "", "", nil, nil, nil, 0, "", 1, false)
	if err != nil {
		t.Fatalf("NewC1TaskManager: %v", err)
	}
	return tm
}

// processNext polls like the connector runner until a task arrives, then
// processes it.
func processNext(ctx context.Context, t *testing.T, tm c1api.BootstrappingTaskManager, cc types.ConnectorClient) *v1.Task {
	t.Helper()
	for {
		task, wait, err := tm.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if task != nil {
			if err := tm.Process(ctx, task, cc); err != nil {
				t.Logf("Process(%s): %v", task.GetId(), err)
			}
			return task
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			t.Fatalf("no task before deadline: %v", ctx.Err())
		}
	}
}

func noErrors(t *testing.T, s *Server) {
	t.Helper()
	for _, err := range s.Errors() {
		t.Errorf("protocol violation: %v", err)
	}
}

func TestSDKClientFullSync(t *testing.T) {
	s := Start(t)
	clientEnv(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cc := serveConnector(t, &testConnector{})
	tm := newTaskManager(t, s, s.ClientSecret())
	if err := tm.Bootstrap(ctx, cc); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	if err := s.WaitHello(ctx); err != nil {
		t.Fatal(err)
	}
	hellos := s.Hellos()
	if len(hellos) != 1 {
		t.Fatalf("%d hellos, want 1", len(hellos))
	}
	h := hellos[0]
	if h.GetHostId() != testHostID || h.GetTaskId() != "" {
		t.Errorf("hello host_id=%q task_id=%q, want %q and empty", h.GetHostId(), h.GetTaskId(), testHostID)
	}
	if md := h.GetConnectorMetadata(); md.GetDisplayName() != "fakec1 test connector" || len(md.GetCapabilities().GetConnectorCapabilities()) == 0 {
		t.Errorf("hello metadata = %v, want the test connector's with capabilities", md)
	}
	if h.GetOsInfo().GetOs() == "" || h.GetBuildInfo().GetLangVersion() == "" {
		t.Errorf("hello lacks OS or build info: %v", h)
	}

	id := s.AddSyncTask()
	if len(id) != 27 {
		t.Errorf("task id %q is not 27 characters", id)
	}
	if got := processNext(ctx, t, tm, cc); got.GetId() != id {
		t.Fatalf("processed task %q, want %q", got.GetId(), id)
	}
	fin, err := s.WaitFinished(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if fin.GetSuccess() == nil {
		t.Fatalf("sync finished without success: status=%v error=%v", fin.GetStatus(), fin.GetError())
	}
	if s.Heartbeats(id) < 1 {
		t.Error("no heartbeat for the sync task")
	}
	c1z, ok := s.Upload(id)
	if !ok || len(c1z) < 5 {
		t.Fatalf("no c1z uploaded (ok=%v, %d bytes)", ok, len(c1z))
	}
	if magic := string(c1z[:5]); magic != "C1Z3\x00" && magic != "C1ZF\x00" {
		t.Errorf("upload starts with %q, want a c1z magic", magic)
	}
	assertAliceSynced(ctx, t, c1z)

	// Idle: GetTask hands out nothing.
	if task, wait, err := tm.Next(ctx); err != nil || task != nil || wait != nextPoll {
		t.Errorf("idle Next = (%v, %s, %v), want no task after %s", task, wait, err, nextPoll)
	}
	if n := s.TokenRequests(); n != 1 {
		t.Errorf("%d token requests, want 1 (the SDK caches its token)", n)
	}
	noErrors(t, s)
}

// assertAliceSynced opens the uploaded c1z with the SDK's reader.
func assertAliceSynced(ctx context.Context, t *testing.T, c1z []byte) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "upload.c1z")
	if err := os.WriteFile(path, c1z, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := dotc1z.NewStore(ctx, path, dotc1z.WithReadOnly(true), dotc1z.WithTmpDir(dir))
	if err != nil {
		t.Fatalf("opening uploaded c1z: %v", err)
	}
	defer func() { _ = st.Close(ctx) }()
	latest, err := st.SyncMeta().LatestFinishedSyncOfAnyType(ctx)
	if err != nil || latest == nil {
		t.Fatalf("no finished sync in upload: %v", err)
	}
	if err := st.SetCurrentSync(ctx, latest.ID); err != nil {
		t.Fatal(err)
	}
	resp, err := st.ListResources(ctx, v2.ResourcesServiceListResourcesRequest_builder{ResourceTypeId: "user"}.Build())
	if err != nil {
		t.Fatal(err)
	}
	if rs := resp.GetList(); len(rs) != 1 || rs[0].GetId().GetResource() != "alice" {
		t.Errorf("users in upload = %v, want alice", rs)
	}
}

func TestSDKClientGrantRevokeViaGetTasks(t *testing.T) {
	s := Start(t)
	clientEnv(t, s)
	t.Setenv("BATON_GET_TASKS", "true") // the batched path
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	conn := &testConnector{}
	cc := serveConnector(t, conn)
	tm := newTaskManager(t, s, s.ClientSecret())
	if err := tm.Bootstrap(ctx, cc); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}

	ent, principal := memberEntitlement(), alice()
	grantID := s.AddGrantTask(ent, principal)
	processNext(ctx, t, tm, cc)
	fin, err := s.WaitFinished(ctx, grantID)
	if err != nil {
		t.Fatal(err)
	}
	resp := &v2.GrantManagerServiceGrantResponse{}
	if fin.GetSuccess() == nil || fin.GetSuccess().GetResponse().UnmarshalTo(resp) != nil || len(resp.GetGrants()) != 1 {
		t.Fatalf("grant finished with %v, want success carrying one grant", fin)
	}

	revokeID := s.AddRevokeTask(resp.GetGrants()[0])
	processNext(ctx, t, tm, cc)
	if fin, err = s.WaitFinished(ctx, revokeID); err != nil {
		t.Fatal(err)
	}
	if fin.GetSuccess() == nil {
		t.Fatalf("revoke finished with %v, want success", fin)
	}
	conn.mu.Lock()
	defer conn.mu.Unlock()
	if len(conn.granted) != 1 || len(conn.revoked) != 1 || conn.revoked[0] != "group:admins:member:user:alice" {
		t.Errorf("connector saw grants %v and revokes %v", conn.granted, conn.revoked)
	}
	noErrors(t, s)
}

func TestCancelTaskAbortsSync(t *testing.T) {
	s := Start(t)
	clientEnv(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	conn := &testConnector{blockUsers: true, enteredUsers: make(chan struct{})}
	cc := serveConnector(t, conn)
	tm := newTaskManager(t, s, s.ClientSecret())
	id := s.AddSyncTask()
	done := make(chan struct{})
	go func() {
		defer close(done)
		task, _, err := tm.Next(ctx)
		if err != nil || task == nil {
			t.Errorf("Next = %v, %v", task, err)
			return
		}
		_ = tm.Process(ctx, task, cc)
	}()
	select {
	case <-conn.enteredUsers:
	case <-done:
		t.Fatal("task ended before the sync started")
	}
	s.CancelTask(id)
	fin, err := s.WaitFinished(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if fin.GetError() == nil || fin.GetStatus().GetCode() != int32(codes.Canceled) {
		t.Errorf("cancelled sync finished with %v, want an error with status Canceled", fin)
	}
	noErrors(t, s)
}

func TestWrongSecretIsUnauthenticated(t *testing.T) {
	s := Start(t)
	clientEnv(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	tm := newTaskManager(t, s, s.WrongSecret())
	err := tm.Bootstrap(ctx, serveConnector(t, &testConnector{}))
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("Bootstrap with the wrong secret = %v, want Unauthenticated", err)
	}
	if len(s.Hellos()) != 0 || s.TokenRequests() == 0 {
		t.Errorf("hellos=%d token requests=%d, want 0 and some", len(s.Hellos()), s.TokenRequests())
	}
	if errs := s.Errors(); len(errs) == 0 || !strings.Contains(errs[0].Error(), "signature") {
		t.Errorf("errors = %v, want the rejected signature", errs)
	}
}

// caPool trusts the fake's CA explicitly, independent of SSL_CERT_FILE.
func caPool(t *testing.T, s *Server) *x509.CertPool {
	pem, err := os.ReadFile(s.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
	return pool
}

func TestTokenEndpointChecksAssertion(t *testing.T) {
	s := Start(t)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, s)}}}
	// The registered key, recovered from the secret the way a client would.
	priv := secretKey(t, s.ClientSecret())
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now().Unix()
	claims := func(mod func(m map[string]any)) map[string]any {
		m := map[string]any{"iss": s.ClientID(), "sub": s.ClientID(), "aud": "127.0.0.1", "exp": now + 120, "nbf": now - 120, "iat": now}
		if mod != nil {
			mod(m)
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		key    ed25519.PrivateKey
		claims map[string]any
		form   func(url.Values)
		want   int
	}{
		{name: "valid", key: priv, claims: claims(nil), want: 200},
		{name: "aud as list", key: priv, claims: claims(func(m map[string]any) { m["aud"] = []string{"127.0.0.1"} }), want: 200},
		{name: "aud with port", key: priv, claims: claims(func(m map[string]any) { m["aud"] = s.Host() }), want: 401},
		{name: "wrong aud", key: priv, claims: claims(func(m map[string]any) { m["aud"] = "tenant.conductor.one" }), want: 401},
		{name: "wrong iss", key: priv, claims: claims(func(m map[string]any) { m["iss"] = "someone@127.0.0.1/pcc" }), want: 401},
		{name: "expired", key: priv, claims: claims(func(m map[string]any) { m["exp"] = now - 3600 }), want: 401},
		{name: "no exp", key: priv, claims: claims(func(m map[string]any) { delete(m, "exp") }), want: 401},
		{name: "other key", key: otherKey, claims: claims(nil), want: 401},
		{name: "wrong grant type", key: priv, claims: claims(nil), form: func(v url.Values) { v.Set("grant_type", "password") }, want: 401},
		{name: "wrong client id", key: priv, claims: claims(nil), form: func(v url.Values) { v.Set("client_id", "x@127.0.0.1/pcc") }, want: 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jwt, err := signAssertion(tc.key, tc.claims)
			if err != nil {
				t.Fatal(err)
			}
			form := url.Values{
				"client_id":             {s.ClientID()},
				"grant_type":            {"client_credentials"},
				"client_assertion_type": {assertionType},
				"client_assertion":      {jwt},
			}
			if tc.form != nil {
				tc.form(form)
			}
			resp, err := client.PostForm("https://"+s.Host()+tokenPath, form)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	if n := s.TokenRequests(); n != 10 {
		t.Errorf("%d token requests, want 10", n)
	}
}

// secretKey parses a client secret with the SDK's own parser, which is what
// proves the secret format.
func secretKey(t *testing.T, secret string) ed25519.PrivateKey {
	t.Helper()
	jwk, err := crypto.ParseClientSecret([]byte(secret), false)
	if err != nil {
		t.Fatalf("SDK rejects the secret: %v", err)
	}
	priv, ok := jwk.Key.(ed25519.PrivateKey)
	if !ok {
		t.Fatalf("secret holds a %T, want ed25519.PrivateKey", jwk.Key)
	}
	return priv
}

func TestRPCWithoutBearerTokenIsRejected(t *testing.T) {
	s := Start(t)
	conn, err := grpc.NewClient(s.Host(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: caPool(t, s)})))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	c := v1.NewBatonServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, err := c.GetTask(ctx, v1.BatonServiceGetTaskRequest_builder{HostId: "h"}.Build()); status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetTask without a token = %v, want Unauthenticated", err)
	}
	bad := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer not-issued")
	if _, err := c.GetTask(bad, v1.BatonServiceGetTaskRequest_builder{HostId: "h"}.Build()); status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetTask with a made-up token = %v, want Unauthenticated", err)
	}
	if n := len(s.Errors()); n != 2 {
		t.Errorf("%d errors recorded, want 2: %v", n, s.Errors())
	}
}

func TestSecretRoundTrip(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	if got := secretKey(t, encodeClientSecret(priv)); !bytes.Equal(got, priv) {
		t.Error("the SDK parses the secret to a different key")
	}
}

// rawClient is a bare BatonService client holding a token from the fake's
// token endpoint, for sending what the SDK never would.
func rawClient(t *testing.T, s *Server) (v1.BatonServiceClient, context.Context) {
	t.Helper()
	pool := caPool(t, s)
	now := time.Now().Unix()
	jwt, err := signAssertion(secretKey(t, s.ClientSecret()), map[string]any{
		"iss": s.ClientID(), "sub": s.ClientID(), "aud": "127.0.0.1", "exp": now + 60,
	})
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.PostForm("https://"+s.Host()+tokenPath, url.Values{
		"client_id":             {s.ClientID()},
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {assertionType},
		"client_assertion":      {jwt},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 {
		t.Fatalf("token response %+v (%v)", tok, err)
	}
	conn, err := grpc.NewClient(s.Host(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return v1.NewBatonServiceClient(conn), metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok.AccessToken)
}

func TestProtocolViolationsAreRecorded(t *testing.T) {
	s := Start(t)
	c, ctx := rawClient(t, s)

	if _, err := c.FinishTask(ctx, v1.BatonServiceFinishTaskRequest_builder{
		HostId:  "h",
		TaskId:  newTaskID(),
		Success: &v1.BatonServiceFinishTaskRequest_Success{},
	}.Build()); status.Code(err) != codes.NotFound {
		t.Errorf("FinishTask of an unknown task = %v, want NotFound", err)
	}
	if _, err := c.Heartbeat(ctx, v1.BatonServiceHeartbeatRequest_builder{HostId: "h", TaskId: "short"}.Build()); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Heartbeat with a malformed task id = %v, want InvalidArgument", err)
	}

	// An upload whose Eof checksum does not match its data.
	id := s.AddSyncTask()
	if task, err := c.GetTask(ctx, v1.BatonServiceGetTaskRequest_builder{HostId: "h"}.Build()); err != nil || task.GetTask().GetId() != id {
		t.Fatalf("GetTask = %v, %v", task, err)
	}
	up, err := c.UploadAsset(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []*v1.BatonServiceUploadAssetRequest{
		v1.BatonServiceUploadAssetRequest_builder{Metadata: v1.BatonServiceUploadAssetRequest_UploadMetadata_builder{HostId: "h", TaskId: id}.Build()}.Build(),
		v1.BatonServiceUploadAssetRequest_builder{Data: v1.BatonServiceUploadAssetRequest_UploadData_builder{Data: []byte("C1Z3\x00data")}.Build()}.Build(),
		v1.BatonServiceUploadAssetRequest_builder{Eof: v1.BatonServiceUploadAssetRequest_UploadEOF_builder{Sha256Checksum: make([]byte, 32)}.Build()}.Build(),
	} {
		if err := up.Send(msg); err != nil {
			break // the server may already have answered; CloseAndRecv reports it
		}
	}
	if _, err := up.CloseAndRecv(); status.Code(err) != codes.InvalidArgument {
		t.Errorf("upload with a bad checksum = %v, want InvalidArgument", err)
	}
	if _, ok := s.Upload(id); ok {
		t.Error("an upload with a bad checksum was kept")
	}

	errs := s.Errors()
	want := []string{"unknown task id", "fails validation", "sha256 mismatch"}
	if len(errs) != len(want) {
		t.Fatalf("errors = %v, want %d", errs, len(want))
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("error %d = %v, want it to mention %q", i, errs[i], w)
		}
	}
}

func TestClientRejectingCertificateIsRecorded(t *testing.T) {
	s := Start(t)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	if _, err := hc.PostForm("https://"+s.Host()+tokenPath, url.Values{}); err == nil {
		t.Fatal("a client trusting nothing reached the server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.wait(ctx, func() bool { return len(s.errs) > 0 }); err != nil {
		t.Fatalf("no error recorded: %v", err)
	}
	if err := s.Errors()[0]; !strings.Contains(err.Error(), "CAFile") {
		t.Errorf("recorded %v, want a hint about CAFile", err)
	}
}
