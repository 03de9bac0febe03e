package securitytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/dotc1z"
	c1zv3 "github.com/conductorone/baton-sdk/pkg/dotc1z/format/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/runner"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// sentinel is the tenant's API token in the hygiene test: recognisable in
// any output it could leak into.
const sentinel = "tok-7f3a9c-SENTINEL-secret"

// capture collects every text an operator or a guest could read.
type capture struct {
	mu    sync.Mutex
	texts map[string][]string
}

func (c *capture) add(where string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.texts == nil {
		c.texts = map[string][]string{}
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	case error:
		if x == nil {
			return
		}
		s = x.Error() + "\n" + fmt.Sprintf("%+v %#v", x, x)
	default:
		s = fmt.Sprintf("%+v", x)
	}
	c.texts[where] = append(c.texts[where], s)
}

// TestTokenNeverLeaks runs a full sandboxed sync, a grant and a revoke with
// a recognisable token, plus the failure paths (the API rejecting the
// token, a refused write, egress refusals, bad configuration), and checks
// that the token appears in none of: the log lines (debug level), the
// error messages, the audit records (%+v and JSON), the c1z file (raw and
// decompressed, and every object in it), the Prometheus metrics of a
// runner that synced with it, and the memory of a guest that made
// requests with it.
func TestTokenNeverLeaks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var c capture
	core, logs := observer.New(zap.DebugLevel)
	logger := zap.New(core)
	audit := &auditLog{}

	ws := segmentsim.Generate(func() segmentsim.Config {
		cfg := segmentsim.DefaultConfig(30)
		cfg.Token = sentinel
		return cfg
	}())
	sim := segmentsim.NewServer(ws, segmentsim.Options{WriteLimitPerMinute: -1})
	simTS := httptest.NewServer(sim)
	defer simTS.Close()
	// A second API that does not accept the token.
	rejecting := httptest.NewServer(segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(5)), segmentsim.Options{}))
	defer rejecting.Close()

	newTenant := func(name, url string) *tenant.Tenant {
		tn, err := tenant.New(segmentModule(t), tenant.Config{Name: name, Logger: logger,
			Egress: egress.Config{BaseURL: url, Token: secret.New(sentinel), Audit: audit.add, WritesPerMinute: -1}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tn.Close(context.Background()) })
		return tn
	}

	// 1. A full sync.
	dir := t.TempDir()
	path := filepath.Join(dir, "sync.c1z")
	tn := newTenant("hygiene", simTS.URL)
	if err := tn.Sync(ctx, localsync.Options{Path: path, TmpDir: dir}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c.add("c1z file", raw)
	for name, b := range c1zContents(t, path, raw) {
		c.add("c1z decompressed", name+"\n"+string(b))
	}
	snap, err := inspect.Load(ctx, path, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range snap.Resources {
		c.add("c1z resource", fmt.Sprint(r))
	}
	for _, e := range snap.Entitlements {
		c.add("c1z entitlement", fmt.Sprint(e))
	}
	for _, g := range snap.Grants {
		c.add("c1z grant", fmt.Sprint(g))
	}

	// 2. A grant and a revoke, and a refused grant.
	cc, err := tn.Client(ctx, tenant.ClientOptions{Provisioning: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ent, user := nonMember(t, snap)
	gr, err := cc.Grant(ctx, v2.GrantManagerServiceGrantRequest_builder{Entitlement: ent, Principal: user}.Build())
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	c.add("grant response", fmt.Sprint(gr))
	g := v2.Grant_builder{Id: ent.GetId() + ":user:" + user.GetId().GetResource(), Entitlement: ent, Principal: user}.Build()
	rr, err := cc.Revoke(ctx, v2.GrantManagerServiceRevokeRequest_builder{Grant: g}.Build())
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	c.add("revoke response", fmt.Sprint(rr))
	missing := v2.Entitlement_builder{Id: "group:no-such-group:member", Slug: "member",
		Resource: v2.Resource_builder{Id: v2.ResourceId_builder{ResourceType: "group", Resource: "no-such-group"}.Build()}.Build()}.Build()
	_, err = cc.Grant(ctx, v2.GrantManagerServiceGrantRequest_builder{Entitlement: missing, Principal: user}.Build())
	if err == nil {
		t.Error("a grant on a missing group succeeded")
	}
	c.add("error: refused grant", err)

	// 3. The API rejects the token.
	bad := newTenant("rejected", rejecting.URL)
	err = bad.Sync(ctx, localsync.Options{Path: filepath.Join(dir, "rejected.c1z"), TmpDir: dir})
	if err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Errorf("sync with a rejected token: err = %v", err)
	}
	c.add("error: rejected token", err)

	// 4. Bad configurations that embed the token.
	for _, cfg := range []egress.Config{
		{BaseURL: "https://user:" + sentinel + "@api.example.com"},
		{BaseURL: "https://api.example.com", Token: secret.New(sentinel + "\r\nX: y")},
	} {
		_, err := egress.New(cfg)
		if err == nil {
			t.Errorf("egress.New accepted %+v", cfg)
		}
		c.add("error: egress config", err)
	}

	// 5. The hostile guest with the token: refusals, redirects, forged
	// credential headers, and a scan of its memory after requests that
	// carried the token.
	evil := newEvil(t)
	origin := newOrigin(t, sentinel, evil.URL)
	for i, set := range []map[string]string{
		{"attack": "egress", "path": "http://evil.test/"},
		{"attack": "egress", "path": "/redirect"},
		{"attack": "egress", "path": "/nothing-here"},
		{"attack": "headers"},
		{"attack": "memscan", "path": "/canary", "tokenPrefix": hexPrefix(sentinel), "markerPrefix": hexPrefix(marker)},
	} {
		eg := egress.Config{BaseURL: origin.URL, Token: secret.New(sentinel)}
		ht := newHostileTenant(t, fmt.Sprintf("hostile-%d", i), eg, set, logger)
		prof, err := ht.list(ctx)
		if err != nil {
			t.Fatalf("%v: %v", set, err)
		}
		c.add("hostile guest observed", prof)
		for _, r := range ht.audit.records() {
			audit.add(r)
		}
		if set["attack"] == "memscan" {
			if prof["tokenPrefixFound"] != "0" || prof["markerPrefixFound"] == "0" {
				t.Errorf("guest memory scan: %v", prof)
			}
		}
	}
	if evil.hits.Load() != 0 {
		t.Errorf("the attacker's server was reached %d times", evil.hits.Load())
	}

	// The token was really used: the simulator saw it on every request.
	reqs := sim.Requests()
	if len(reqs) == 0 {
		t.Fatal("the simulator saw no request")
	}
	for _, r := range reqs {
		if r.Authorization != "Bearer "+sentinel {
			t.Fatalf("request %s %s carried %q", r.Method, r.Path, r.Authorization)
		}
	}

	// 6. A runner syncing with the token, and its metrics.
	c.add("metrics", runnerMetrics(t, logger, simTS.URL, rejecting.URL))

	recs := audit.records()
	denied := 0
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		c.add("audit %+v", r)
		c.add("audit JSON", b)
		if r.Denied != "" {
			denied++
		}
	}
	if len(recs) < len(reqs) || denied == 0 {
		t.Errorf("%d audit records (%d denied) for %d requests", len(recs), denied, len(reqs))
	}
	enc := zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig())
	for _, e := range logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		c.add("log", buf.String())
		c.add("log fields", e.ContextMap())
		buf.Free()
	}

	for _, where := range []string{"c1z file", "c1z decompressed", "c1z resource", "c1z grant", "log", "audit JSON", "metrics", "hostile guest observed"} {
		if len(c.texts[where]) == 0 {
			t.Errorf("captured nothing from %s", where)
		}
	}
	total := 0
	for where, texts := range c.texts {
		for _, s := range texts {
			total += len(s)
			for _, needle := range []string{sentinel, "SENTINEL"} {
				if i := strings.Index(s, needle); i >= 0 {
					t.Errorf("%s leaks the token: …%s…", where, s[max(0, i-80):min(len(s), i+80)])
				}
			}
		}
	}
	t.Logf("searched %d bytes in %d places", total, len(c.texts))
}

// nonMember returns a group's membership entitlement and a user who is not
// a member, as baton-sdk reads them from the c1z.
func nonMember(t *testing.T, snap *inspect.Snapshot) (*v2.Entitlement, *v2.Resource) {
	t.Helper()
	grants := map[string]bool{}
	for _, g := range snap.Grants {
		grants[g.GetId()] = true
	}
	for _, e := range snap.Entitlements {
		if e.GetResource().GetId().GetResourceType() != "group" || e.GetSlug() != "member" {
			continue
		}
		for _, r := range snap.Resources {
			if r.GetId().GetResourceType() == "user" && !grants[e.GetId()+":user:"+r.GetId().GetResource()] {
				return e, r
			}
		}
	}
	t.Fatal("no group without a user to add")
	return nil, nil
}

// runnerMetrics runs a runner with a tenant that syncs and one whose token
// is rejected, and returns its metrics in Prometheus text format.
func runnerMetrics(t *testing.T, logger *zap.Logger, goodURL, rejectingURL string) string {
	t.Helper()
	wasm, err := os.ReadFile(wasmbuild.Module(t, segmentPkg))
	if err != nil {
		t.Fatal(err)
	}
	m := runner.NewMetrics()
	r := runner.New(runner.Options{Logger: logger, Metrics: m, RestartBackoff: time.Hour})
	defer r.Stop(context.Background())
	dir := t.TempDir()
	spec := func(name, url string) runner.TenantSpec {
		return runner.TenantSpec{Name: name, Module: "segment", BaseURL: url, Token: secret.New(sentinel),
			Mode: runner.ModeSync, Interval: time.Hour, Output: filepath.Join(dir, name+".c1z")}
	}
	err = r.Apply(context.Background(), runner.Spec{
		Runtime: runner.Runtime{CacheDir: wasmbuild.CacheDir, MemoryLimitMiB: 256, CallTimeout: time.Minute},
		Modules: []runner.Module{{Name: "segment", Wasm: wasm}},
		Tenants: []runner.TenantSpec{spec("metrics-ok", goodURL), spec("metrics-rejected", rejectingURL)},
	})
	if err != nil {
		t.Fatal(err)
	}
	text := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	deadline := time.Now().Add(time.Minute)
	for {
		s := text()
		if strings.Contains(s, `baton_runner_syncs_total{result="success",tenant="metrics-ok"}`) &&
			strings.Contains(s, `baton_runner_syncs_total{result="failure",tenant="metrics-rejected"}`) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("runner did not sync both tenants:\n%s", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBaseURLQueryIsNotQuoted: an operator who pastes a URL with the token
// in its query or path as the base URL gets a start-up error that names
// the problem without quoting the token into the log.
func TestBaseURLQueryIsNotQuoted(t *testing.T) {
	for _, u := range []string{
		"https://api.example.com/?token=" + sentinel,
		"https://api.example.com/" + sentinel,
		"https://user:" + sentinel + "@api.example.com",
	} {
		_, err := egress.New(egress.Config{BaseURL: u})
		if err == nil {
			t.Fatalf("%s was accepted", strings.ReplaceAll(u, sentinel, "…"))
		}
		if strings.Contains(err.Error(), sentinel) {
			t.Errorf("the error quotes the credential: %v", err)
		}
	}
}

// c1zContents decompresses a c1z: v1 is a zstd stream of a SQLite
// database; v3 a manifest and a compressed Pebble checkpoint (whose tables
// may compress their blocks again, which is why the test also searches
// every object inspect.Load decodes).
func c1zContents(t *testing.T, path string, raw []byte) map[string][]byte {
	t.Helper()
	format, err := dotc1z.ReadHeaderFormat(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	switch format {
	case dotc1z.C1ZFormatV1:
		dec, err := dotc1z.NewDecoder(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		db, err := io.ReadAll(dec)
		if err != nil {
			t.Fatal(err)
		}
		out["sqlite"] = db
	case dotc1z.C1ZFormatV3:
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		dir := t.TempDir()
		manifest, _, err := c1zv3.ExtractEnvelopePayload(f, dir)
		if err != nil {
			t.Fatalf("extracting the c1z payload: %v", err)
		}
		out["manifest"] = []byte(fmt.Sprint(manifest))
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			out[p] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown c1z format %v", format)
	}
	if len(out) == 0 {
		t.Fatal("the c1z decompressed to nothing")
	}
	return out
}
