// The demo connector, written only against baton-sdk, run natively by
// baton-sdk's own runner against the demo API over TLS: the c1z holds
// what the API holds, and grant and revoke change the API. Run by
// baton-runner as a sandboxed guest against a server of the same seed, it
// writes the same c1z, every field.
package batondemo_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/annotations"
	"github.com/conductorone/baton-sdk/pkg/bid"
	"github.com/conductorone/baton-sdk/pkg/types/resource"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/baton-runner/baton-runner/examples/baton-demo/demoapi"
	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/host/synclimits"
	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// seed makes the organisation every test syncs: 120 users (three pages),
// so two servers of it serve the same data.
var seed = demoapi.Options{Seed: 42, Users: 120, Groups: 4, Roles: 3}

// testAPI is a demoapi server on a TLS listener whose certificate the CA
// in caFile signed.
type testAPI struct {
	*demoapi.Server
	ts     *httptest.Server
	caFile string
}

// startAPI serves seed with opts' hosts and credentials.
func startAPI(t *testing.T, hosts func(*demoapi.Options)) *testAPI {
	t.Helper()
	opts := seed
	hosts(&opts)
	certs, err := demoapi.NewCerts()
	if err != nil {
		t.Fatal(err)
	}
	api := &testAPI{Server: demoapi.New(opts), caFile: filepath.Join(t.TempDir(), "ca.pem")}
	if err := os.WriteFile(api.caFile, certs.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	api.ts = httptest.NewUnstartedServer(api.Server)
	api.ts.TLS = certs.ServerConfig()
	api.ts.StartTLS()
	t.Cleanup(api.ts.Close)
	return api
}

// nativeHosts: natively, with no resolver entries for the demo's names,
// the connector reaches the API as 127.0.0.1 and its token endpoint as
// localhost, both this one listener.
func nativeHosts(o *demoapi.Options) { o.APIHost, o.AuthHost = "127.0.0.1", "localhost" }

func (a *testAPI) port() string { return a.ts.URL[strings.LastIndex(a.ts.URL, ":")+1:] }

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// nativeBinary is the connector's native main, baton-sdk's own runner,
// built once per test binary.
func nativeBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "baton-demo"); binErr != nil {
			return
		}
		b, err := exec.Command("go", "build", "-o", binDir, "./cmd/baton-demo").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("building the native connector: %v\n%s", err, b)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "baton-demo")
}

// native runs baton-sdk's runner against api, trusting its CA as the
// system's: what runs is what a ConductorOne connector's image runs.
func native(t *testing.T, api *testAPI, args ...string) string {
	t.Helper()
	out, err := nativeRun(t, api, args...)
	if err != nil {
		t.Fatalf("baton-demo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// nativeRun is native with the credentials and flags args sets last, so
// they override the right ones.
func nativeRun(t *testing.T, api *testAPI, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(nativeBinary(t), append([]string{
		"--base-url", "https://127.0.0.1:" + api.port(),
		"--token-url", "https://localhost:" + api.port() + "/oauth/token",
		"--demo-client-id", demoapi.DefaultClientID, "--demo-client-secret", demoapi.DefaultClientSecret, "--api-key", demoapi.DefaultAPIKey,
	}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+api.caFile)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// rows renders every resource, entitlement and grant of a c1z as
// protojson, sorted, for a field-by-field comparison.
func rows(t *testing.T, path string) []string {
	t.Helper()
	s, err := inspect.Load(context.Background(), path, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	add := func(kind string, m proto.Message) {
		b, err := protojson.MarshalOptions{Multiline: false}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, kind+" "+string(b))
	}
	for _, r := range s.Resources {
		add("resource", r)
	}
	for _, e := range s.Entitlements {
		add("entitlement", e)
	}
	for _, g := range s.Grants {
		add("grant", g)
	}
	slices.Sort(out)
	return out
}

// wantGrants is every grant a sync of api must hold: memberships, role
// assignments, and each role a group holds expanded to its members.
func wantGrants(api *testAPI) map[string]bool {
	want := map[string]bool{}
	for _, g := range api.Groups() {
		for _, m := range api.Members(g.ID) {
			want["group:"+g.ID+":member:user:"+m.UserID] = true
		}
	}
	for _, r := range api.Roles() {
		for _, a := range api.Assignments(r.ID) {
			want["role:"+r.ID+":assigned:"+a.PrincipalType+":"+a.PrincipalID] = true
			if a.PrincipalType == "group" {
				for _, m := range api.Members(a.PrincipalID) {
					want["role:"+r.ID+":assigned:user:"+m.UserID] = true
				}
			}
		}
	}
	return want
}

func load(t *testing.T, path string) *inspect.Snapshot {
	t.Helper()
	s, err := inspect.Load(context.Background(), path, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func grantIDs(s *inspect.Snapshot) map[string]bool {
	out := map[string]bool{}
	for _, g := range s.Grants {
		out[g.GetId()] = true
	}
	return out
}

// TestNativeSync: baton-sdk's own runner syncs the API over TLS with an
// OAuth2 token, fetched once and reused, and the API key; the c1z holds
// what the API holds, and nothing of the address it was reached at.
func TestNativeSync(t *testing.T) {
	api := startAPI(t, nativeHosts)
	c1z := filepath.Join(t.TempDir(), "native.c1z")
	out := native(t, api, "-f", c1z)
	for _, secret := range []string{demoapi.DefaultClientSecret, demoapi.DefaultAPIKey} {
		if strings.Contains(out, secret) {
			t.Errorf("the runner's output holds a secret:\n%s", out)
		}
	}
	s := load(t, c1z)

	counts := map[string]int{}
	for _, r := range s.Resources {
		counts[r.GetId().GetResourceType()]++
	}
	if want := map[string]int{"org": 1, "user": len(api.Users()), "group": len(api.Groups()), "role": len(api.Roles())}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("resources %v, want %v", counts, want)
	}
	if got, want := len(s.Entitlements), len(api.Groups())+len(api.Roles()); got != want {
		t.Errorf("%d entitlements, want %d", got, want)
	}
	if got, want := grantIDs(s), wantGrants(api); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%d grants, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
	}

	// A few fields exactly: a user's traits, a membership's metadata, a
	// group's parent, a role grant to a group expanded to its members.
	u := api.Users()[7]
	user := find(t, s.Resources, func(r *v2.Resource) bool { return r.GetId().GetResource() == u.ID })
	ut, err := resource.GetUserTrait(user)
	if err != nil {
		t.Fatal(err)
	}
	if user.GetDisplayName() != u.DisplayName || ut.GetLogin() != u.Login || ut.GetEmails()[0].GetAddress() != u.Email ||
		(ut.GetStatus().GetStatus() == v2.UserTrait_Status_STATUS_ENABLED) != (u.Status == "active") {
		t.Errorf("user %s: %v, want %+v", u.ID, user, u)
	}
	g := api.Groups()[1]
	m := api.Members(g.ID)[0]
	membership := find(t, s.Grants, func(x *v2.Grant) bool { return x.GetId() == "group:"+g.ID+":member:user:"+m.UserID })
	md, annos := &v2.GrantMetadata{}, annotations.Annotations(membership.GetAnnotations())
	if ok, err := annos.Pick(md); !ok || err != nil ||
		md.GetMetadata().GetFields()["since"].GetStringValue() != m.Since {
		t.Errorf("membership %v lacks since %s (%v)", membership, m.Since, err)
	}
	group := find(t, s.Resources, func(r *v2.Resource) bool { return r.GetId().GetResource() == g.ID })
	if group.GetDisplayName() != g.Name || group.GetParentResourceId().GetResource() != "acme" || group.GetDescription() != g.Description {
		t.Errorf("group %s: %v, want %+v under org acme", g.ID, group, g)
	}
	for _, a := range api.Assignments("r00") {
		if a.PrincipalType == "group" {
			viaGroup := find(t, s.Grants, func(x *v2.Grant) bool {
				return x.GetId() == "role:r00:assigned:user:"+api.Members(a.PrincipalID)[0].UserID
			})
			if viaGroup.GetSources().GetSources()["group:"+a.PrincipalID+":member"] == nil {
				t.Errorf("%s: no source group:%s:member: %v", viaGroup.GetId(), a.PrincipalID, viaGroup.GetSources())
			}
			break
		}
	}

	if n := api.Requests("/oauth/token"); n != 1 {
		t.Errorf("%d token requests, want 1: the token is fetched once and reused", n)
	}
	if n := api.Requests("/v1/users"); n != 3 {
		t.Errorf("%d requests for /v1/users, want 3 pages", n)
	}
	all := strings.Join(rows(t, c1z), "\n")
	for _, addr := range []string{"127.0.0.1", "localhost", api.port()} {
		if strings.Contains(all, addr) {
			t.Errorf("the c1z holds the address the API was reached at (%s)", addr)
		}
	}
}

func find[T proto.Message](t *testing.T, xs []T, f func(T) bool) T {
	t.Helper()
	for _, x := range xs {
		if f(x) {
			return x
		}
	}
	t.Fatalf("the c1z has no such %T", *new(T))
	return *new(T)
}

// TestNativeGrantAndRevoke: baton-sdk's one-shot provisioning adds a user
// to a group through the API; a sync sees the membership, and revoking it
// removes it.
func TestNativeGrantAndRevoke(t *testing.T) {
	api := startAPI(t, nativeHosts)
	dir := t.TempDir()
	before, after := filepath.Join(dir, "before.c1z"), filepath.Join(dir, "after.c1z")
	native(t, api, "-f", before)

	g := api.Groups()[2]
	var outsider string
	for _, u := range api.Users() {
		if !slices.ContainsFunc(api.Members(g.ID), func(m demoapi.Member) bool { return m.UserID == u.ID }) {
			outsider = u.ID
			break
		}
	}
	grantID := "group:" + g.ID + ":member:user:" + outsider
	isMember := func() bool {
		return slices.ContainsFunc(api.Members(g.ID), func(m demoapi.Member) bool { return m.UserID == outsider })
	}

	native(t, api, "-f", before, "--grant-entitlement", "group:"+g.ID+":member", "--grant-principal", outsider, "--grant-principal-type", "user")
	if !isMember() {
		t.Fatalf("after the grant, %s is not a member of %s", outsider, g.ID)
	}
	if n := api.Requests("/v1/groups/" + g.ID + "/members/" + outsider); n != 1 {
		t.Errorf("%d PUTs of the membership, want 1", n)
	}
	native(t, api, "-f", after)
	if !grantIDs(load(t, after))[grantID] {
		t.Fatalf("a sync after the grant lacks %s", grantID)
	}
	native(t, api, "-f", after, "--revoke-grant", grantID)
	if isMember() {
		t.Fatalf("after the revoke, %s is still a member of %s", outsider, g.ID)
	}
}

// TestNativeWrongCredentials: a wrong client secret or API key fails the
// sync with the API's reason and the flag to check, and never shows the
// value given.
func TestNativeWrongCredentials(t *testing.T) {
	api := startAPI(t, nativeHosts)
	for _, tc := range []struct{ flag, want string }{
		{"--demo-client-secret", "invalid_client"},
		{"--api-key", "invalid_api_key"},
	} {
		// Not its exit status: baton-sdk's runner exits 0 now and then
		// after a failed Validate (its connector subprocess's wrapper).
		out, err := nativeRun(t, api, tc.flag, "wrong-value-given", "-f", filepath.Join(t.TempDir(), "sync.c1z"))
		if !strings.Contains(out, "validate failed") || !strings.Contains(out, tc.want) || !strings.Contains(out, "(check "+tc.flag) && !strings.Contains(out, ", "+tc.flag) || strings.Contains(out, "wrong-value-given") {
			t.Errorf("%s wrong: %v\n%s", tc.flag, err, out)
		}
	}
}

const guestPkg = "examples/baton-demo/wasm"

// sandboxed is the demo guest as a tenant of api, which it reaches by the
// demo's own names (the defaults of base-url and token-url), as in
// production: the host's egress sends https://api.demo.test and
// https://auth.demo.test to api's listener, verifies its certificate with
// the CA in api.caFile, and puts the two secrets, which the guest holds
// only as placeholders, into the requests bound there.
func sandboxed(t *testing.T, api *testAPI) *tenant.Tenant {
	t.Helper()
	return sandboxedWith(t, api, nil, demoapi.DefaultAPIHost, demoapi.DefaultAuthHost)
}

// sandboxedWith is sandboxed allowing only the origins of hosts, with
// mod, if set, changing the tenant's configuration.
func sandboxedWith(t *testing.T, api *testAPI, mod func(*tenant.Config), hosts ...string) *tenant.Tenant {
	t.Helper()
	ctx := context.Background()
	wasm, err := wasmbuild.Read(guestPkg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sandbox.Compile(ctx, sandbox.Config{Wasm: wasm, CacheDir: wasmbuild.CacheDir, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(ctx) })
	if m.Kind() != sandbox.GuestBatonSDK {
		t.Fatalf("kind %v, want a baton-sdk guest", m.Kind())
	}
	var schema struct {
		Fields []struct {
			Name             string
			Required, Secret bool
		}
	}
	if err := json.Unmarshal(m.BatonSDKSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(schema.Fields); got != "[{base-url false false} {token-url false false} {demo-client-id true false} {demo-client-secret true true} {api-key true true}]" {
		t.Fatalf("schema %s", got)
	}
	roots, err := egress.LoadCABundle(api.caFile)
	if err != nil {
		t.Fatal(err)
	}
	addr := api.ts.Listener.Addr().String()
	var origins []tenant.Origin
	for _, h := range hosts {
		origins = append(origins, tenant.Origin{URL: "https://" + h, ConnectTo: addr, RootCAs: roots})
	}
	cfg := tenant.Config{Name: "demo",
		Origins:  origins,
		Settings: map[string]string{"demo-client-id": demoapi.DefaultClientID},
		Secrets: map[string]secret.Secret{
			"demo-client-secret": secret.New(demoapi.DefaultClientSecret),
			"api-key":            secret.New(demoapi.DefaultAPIKey),
		},
		Logger: zaptest.NewLogger(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	tn, err := tenant.New(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close(ctx) })
	return tn
}

// TestSandboxedSyncEqualsBatonSDKsOwnRunner: two servers of the same
// seed, one reached by the sandboxed guest under the demo's names, the
// other by baton-sdk's runner at loopback addresses, sync to the same
// rows, every field.
func TestSandboxedSyncEqualsBatonSDKsOwnRunner(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sbAPI, nativeAPI := startAPI(t, func(*demoapi.Options) {}), startAPI(t, nativeHosts)
	tn := sandboxed(t, sbAPI)
	if err := tn.Sync(ctx, localsync.Options{Path: filepath.Join(dir, "sandbox.c1z")}); err != nil {
		t.Fatal(err)
	}
	native(t, nativeAPI, "-f", filepath.Join(dir, "native.c1z"))
	got, want := rows(t, filepath.Join(dir, "sandbox.c1z")), rows(t, filepath.Join(dir, "native.c1z"))
	if !slices.Equal(got, want) {
		t.Errorf("sandboxed c1z differs from baton-sdk's own:\nsandboxed:\n%s\nnative:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// What the comparison covers: paged users, a child resource type
	// under its parent, traits, entitlements with slugs, grants with
	// metadata, and grants expanded through a group.
	joined := strings.Join(got, "\n")
	for _, want := range []string{`"resource":"u0119"`, `"parentResourceId"`, `c1.connector.v2.ChildResourceType`,
		`"slug":"member"`, `"since":"`, `c1.connector.v2.GrantExpandable`, `"sources"`, `c1.connector.v2.UserTrait`} {
		if !strings.Contains(joined, want) {
			t.Errorf("the c1z lacks %s", want)
		}
	}
	// Each guest instance builds its connector, so gets a token of its
	// own, and keeps it.
	if n := sbAPI.Requests("/oauth/token"); n < 1 || n > tn.Workers() {
		t.Errorf("the guest asked for %d tokens, want one per instance (%d) at most", n, tn.Workers())
	}
	t.Logf("%d rows equal", len(got))
}

// TestSandboxedGrantAndRevoke: the guest adds a user to a group and
// removes it through the API, says when there was nothing to do, and its
// refusals reach the caller.
func TestSandboxedGrantAndRevoke(t *testing.T) {
	ctx := context.Background()
	api := startAPI(t, func(*demoapi.Options) {})
	c1z := filepath.Join(t.TempDir(), "sync.c1z")
	tn := sandboxed(t, api)
	if err := tn.Sync(ctx, localsync.Options{Path: c1z}); err != nil {
		t.Fatal(err)
	}
	g := api.Groups()[2]
	var outsider string
	for _, u := range api.Users() {
		if !slices.ContainsFunc(api.Members(g.ID), func(m demoapi.Member) bool { return m.UserID == u.ID }) {
			outsider = u.ID
			break
		}
	}
	isMember := func() bool {
		return slices.ContainsFunc(api.Members(g.ID), func(m demoapi.Member) bool { return m.UserID == outsider })
	}
	for _, want := range []tenant.Outcome{tenant.Changed, tenant.AlreadyGranted} {
		if out, err := tn.Grant(ctx, c1z, "group:"+g.ID+":member", "user", outsider); err != nil || out != want || !isMember() {
			t.Fatalf("grant: %v, %v (member: %v), want %v", out, err, isMember(), want)
		}
	}
	for _, want := range []tenant.Outcome{tenant.Changed, tenant.AlreadyRevoked} {
		if out, err := tn.Revoke(ctx, c1z, "group:"+g.ID+":member:user:"+outsider); err != nil || out != want || isMember() {
			t.Fatalf("revoke: %v, %v (member: %v), want %v", out, err, isMember(), want)
		}
	}
	// The connector refuses a group for a group: its error reaches the caller.
	if _, err := tn.Grant(ctx, c1z, "group:"+g.ID+":member", "group", api.Groups()[0].ID); err == nil || !strings.Contains(err.Error(), "only users") {
		t.Fatalf("granting group membership to a group: %v", err)
	}
	// Without provisioning the client refuses, as baton-sdk's runner does.
	cc, err := tn.Client(ctx, tenant.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := cc.Grant(ctx, v2.GrantManagerServiceGrantRequest_builder{}.Build()); err == nil || !strings.Contains(err.Error(), "provisioning") {
		t.Fatalf("grant without provisioning: %v", err)
	}
}

// TestSandboxedGuestReachesOnlyItsOrigins: allowed the API but not the
// token endpoint's origin, the guest cannot get a token: the sync fails
// saying which origin to allow, the refused request (which carried the
// client secret's placeholder) is audited, and the secret never left.
func TestSandboxedGuestReachesOnlyItsOrigins(t *testing.T) {
	ctx := context.Background()
	api := startAPI(t, func(*demoapi.Options) {})
	var mu sync.Mutex
	var records []egress.Record
	tn := sandboxedWith(t, api, func(c *tenant.Config) {
		c.Egress.Audit = func(r egress.Record) {
			mu.Lock()
			defer mu.Unlock()
			records = append(records, r)
		}
	}, demoapi.DefaultAPIHost)
	err := tn.Sync(ctx, localsync.Options{Path: filepath.Join(t.TempDir(), "sync.c1z")})
	if err == nil || !strings.Contains(err.Error(), "auth.demo.test") {
		t.Fatalf("sync allowed only the API's origin: %v, want a refusal naming auth.demo.test", err)
	}
	if n := api.Requests("/oauth/token"); n != 0 {
		t.Errorf("the token endpoint was reached %d times", n)
	}
	mu.Lock()
	defer mu.Unlock()
	var denied []string
	for _, r := range records {
		if r.Denied != "" {
			denied = append(denied, r.Denied)
		}
	}
	if len(denied) == 0 || !strings.Contains(denied[0], "--allow-origin https://auth.demo.test") || !strings.Contains(denied[0], "demo-client-secret") {
		t.Errorf("audit refusals %q, want one naming --allow-origin https://auth.demo.test and the secret placeholder it carried", denied)
	}
	for _, d := range denied {
		if strings.Contains(d, demoapi.DefaultClientSecret) {
			t.Errorf("an audit record holds the secret: %q", d)
		}
	}
	if strings.Contains(err.Error(), demoapi.DefaultClientSecret) {
		t.Errorf("the sync's error holds the secret: %v", err)
	}
}

// TestNativeCreateAccountAndDelete: baton-sdk's own one-shot flags create
// a user through the API and delete it.
func TestNativeCreateAccountAndDelete(t *testing.T) {
	api := startAPI(t, nativeHosts)
	dir := t.TempDir()
	native(t, api, "-f", filepath.Join(dir, "sync.c1z"), "--create-account-email", "new.hire@acme.demo.test", "--create-account-login", "nhire")
	i := slices.IndexFunc(api.Users(), func(u demoapi.User) bool { return u.Email == "new.hire@acme.demo.test" })
	if i < 0 || api.Users()[i].Login != "nhire" {
		t.Fatalf("no user nhire <new.hire@acme.demo.test> after create-account: %+v", api.Users()[len(api.Users())-1])
	}
	id := api.Users()[i].ID
	native(t, api, "-f", filepath.Join(dir, "sync.c1z"), "--delete-resource", id, "--delete-resource-type", "user")
	if slices.ContainsFunc(api.Users(), func(u demoapi.User) bool { return u.ID == id }) {
		t.Fatalf("user %s still there after delete-resource", id)
	}
}

// TestSandboxedCreateAccountAndDelete: the tenant's CreateAccount and
// DeleteResource reach the guest's account manager and deleter and
// return what they return for a JSON-ABI guest: the created user, the
// one who already has the email, and a second delete as already gone.
// The capabilities say so, with the account creation schema.
func TestSandboxedCreateAccountAndDelete(t *testing.T) {
	ctx := context.Background()
	api := startAPI(t, func(*demoapi.Options) {})
	tn := sandboxed(t, api)
	profile, err := structpb.NewStruct(map[string]any{"email": "new.hire@acme.demo.test", "display_name": "New Hire"})
	if err != nil {
		t.Fatal(err)
	}
	info := v2.AccountInfo_builder{Login: "nhire", Profile: profile}.Build()
	res, err := tn.CreateAccount(ctx, "", info)
	created, ok := res.(*v2.CreateAccountResponse_SuccessResult)
	if err != nil || !ok || created.GetResource().GetDisplayName() != "New Hire" {
		t.Fatalf("create account: %T %v, %v", res, res, err)
	}
	id := created.GetResource().GetId()
	if u := api.Users()[len(api.Users())-1]; u.ID != id.GetResource() || u.Login != "nhire" || id.GetResourceType() != "user" {
		t.Fatalf("created %v, the API's newest user is %+v", id, u)
	}
	res, err = tn.CreateAccount(ctx, "user", info)
	if exists, ok := res.(*v2.CreateAccountResponse_AlreadyExistsResult); err != nil || !ok || exists.GetResource().GetId().GetResource() != id.GetResource() {
		t.Fatalf("create the same account again: %T %v, %v", res, res, err)
	}
	if _, err := tn.CreateAccount(ctx, "", v2.AccountInfo_builder{Login: "nomail"}.Build()); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "needs an email") {
		t.Errorf("create without an email: %v", err)
	}
	if _, err := tn.CreateAccount(ctx, "group", info); status.Code(err) != codes.Unimplemented {
		t.Errorf("create a group account: %v", err)
	}

	for _, want := range []bool{false, true} {
		gone, err := tn.DeleteResource(ctx, id, nil)
		if err != nil || gone != want {
			t.Fatalf("delete %v: already gone %v, %v; want %v", id, gone, err, want)
		}
		if slices.ContainsFunc(api.Users(), func(u demoapi.User) bool { return u.ID == id.GetResource() }) {
			t.Fatalf("user %s still there after the delete", id.GetResource())
		}
	}
	group := v2.ResourceId_builder{ResourceType: "group", Resource: api.Groups()[0].ID}.Build()
	if _, err := tn.DeleteResource(ctx, group, nil); status.Code(err) != codes.Unimplemented || len(api.Groups()) != seed.Groups {
		t.Errorf("delete a group: %v (%d groups left)", err, len(api.Groups()))
	}

	cc, err := tn.Client(ctx, tenant.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	md, err := cc.GetMetadata(ctx, &v2.ConnectorServiceGetMetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	caps := map[string][]v2.Capability{}
	for _, rc := range md.GetMetadata().GetCapabilities().GetResourceTypeCapabilities() {
		caps[rc.GetResourceType().GetId()] = rc.GetCapabilities()
	}
	for rt, want := range map[string][]v2.Capability{
		"user":  {v2.Capability_CAPABILITY_ACCOUNT_PROVISIONING, v2.Capability_CAPABILITY_RESOURCE_DELETE, v2.Capability_CAPABILITY_TARGETED_SYNC},
		"group": {v2.Capability_CAPABILITY_PROVISION, v2.Capability_CAPABILITY_TARGETED_SYNC},
	} {
		for _, c := range want {
			if !slices.Contains(caps[rt], c) {
				t.Errorf("%s: capabilities %v lack %v", rt, caps[rt], c)
			}
		}
	}
	if ap := md.GetMetadata().GetCapabilities().GetCredentialDetails().GetCapabilityAccountProvisioning(); ap.GetPreferredCredentialOption() != v2.CapabilityDetailCredentialOption_CAPABILITY_DETAIL_CREDENTIAL_OPTION_NO_PASSWORD {
		t.Errorf("account provisioning details %v, want no password", ap)
	}
	if f := md.GetMetadata().GetAccountCreationSchema().GetFieldMap()["email"]; !f.GetRequired() {
		t.Errorf("account creation schema %v: want a required email", md.GetMetadata().GetAccountCreationSchema())
	}
}

// TestSandboxedTargetedSync: a targeted sync of one group reads it again
// through the guest's Get and writes it with exactly its memberships.
func TestSandboxedTargetedSync(t *testing.T) {
	ctx := context.Background()
	api := startAPI(t, func(*demoapi.Options) {})
	tn := sandboxed(t, api)
	g := api.Groups()[1]
	target, err := bid.ParseResourceBid("bid:r:org/acme/group/" + g.ID)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "one.c1z")
	if err := tn.Sync(ctx, localsync.Options{Path: path, Targets: []*v2.Resource{target}}); err != nil {
		t.Fatal(err)
	}
	s := load(t, path)
	for _, r := range s.Resources {
		if id := r.GetId(); id.GetResourceType() != "org" && !(id.GetResourceType() == "group" && id.GetResource() == g.ID && r.GetDisplayName() == g.Name) {
			t.Errorf("resource %v synced besides group %s and its org", id, g.ID)
		}
	}
	want := map[string]bool{}
	for _, m := range api.Members(g.ID) {
		want["group:"+g.ID+":member:user:"+m.UserID] = true
	}
	if got := grantIDs(s); len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("grants %v, want %v", got, want)
	}
	if n := api.Requests("/v1/groups/" + g.ID); n != 1 {
		t.Errorf("%d requests for the group itself, want 1 (its Get)", n)
	}
}

// TestSandboxedSyncIsBoundedByItsLimits: the whole-sync limits bound a
// baton-sdk guest's sync as they bound the Segment guest's: allowed 5
// list calls, a sync of the demo (which pages its 120 users alone in 3)
// stops at max_pages, and the target c1z is never written.
func TestSandboxedSyncIsBoundedByItsLimits(t *testing.T) {
	api := startAPI(t, func(*demoapi.Options) {})
	tn := sandboxedWith(t, api, func(c *tenant.Config) { c.Limits.MaxPages = 5 }, demoapi.DefaultAPIHost, demoapi.DefaultAuthHost)
	out := filepath.Join(t.TempDir(), "sync.c1z")
	err := tn.Sync(context.Background(), localsync.Options{Path: out})
	var limit *synclimits.Error
	if !errors.As(err, &limit) || limit.Key != "max_pages" {
		t.Fatalf("sync allowed 5 list calls: %v, want the max_pages limit", err)
	}
	if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
		t.Errorf("a sync stopped by its limit left %s (%v)", out, statErr)
	}
}
