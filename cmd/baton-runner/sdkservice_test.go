package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"

	"github.com/baton-runner/baton-runner/examples/baton-demo/demoapi"
	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/runner"
	"github.com/baton-runner/baton-runner/internal/fakec1"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// The demo connector (examples/baton-demo), a baton-sdk guest, through
// the real binary in each of the ways the Segment guest runs: service
// mode, serve, and the one-shot create-account, delete and targeted sync.

// demoSeed is the organisation the tests' demo API serves: 60 users, two
// pages of the connector's 50.
var demoSeed = demoapi.Options{Seed: 3, Users: 60, Groups: 3, Roles: 2}

// demoAPI is a demo API over TLS answering for the demo's own names
// (api.demo.test, auth.demo.test), which the guest reaches through
// connect-to, trusting the CA in caFile.
type demoAPI struct {
	*demoapi.Server
	addr, caFile string
}

func startDemoAPI(t *testing.T) *demoAPI {
	t.Helper()
	certs, err := demoapi.NewCerts()
	if err != nil {
		t.Fatal(err)
	}
	api := &demoAPI{Server: demoapi.New(demoSeed), caFile: filepath.Join(t.TempDir(), "demo-ca.pem")}
	if err := os.WriteFile(api.caFile, certs.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(api.Server)
	ts.TLS = certs.ServerConfig()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	api.addr = ts.Listener.Addr().String()
	return api
}

var demoOrigins = []string{"https://" + demoapi.DefaultAPIHost, "https://" + demoapi.DefaultAuthHost}

func (a *demoAPI) connectTo() []string {
	return []string{demoapi.DefaultAPIHost + ":443:" + a.addr, demoapi.DefaultAuthHost + ":443:" + a.addr}
}

// flags are the guest's configuration and network as flags.
func (a *demoAPI) flags() []string {
	args := []string{"--demo-client-id", demoapi.DefaultClientID, "--demo-client-secret", demoapi.DefaultClientSecret,
		"--api-key", demoapi.DefaultAPIKey, "--ca-file", a.caFile}
	for i, o := range demoOrigins {
		args = append(args, "--allow-origin", o, "--connect-to", a.connectTo()[i])
	}
	return args
}

// env is flags as BATON_* variables, as a Kubernetes manifest sets them.
func (a *demoAPI) env(module string) []string {
	return []string{"BATON_MODULE=" + module,
		"BATON_DEMO_CLIENT_ID=" + demoapi.DefaultClientID, "BATON_DEMO_CLIENT_SECRET=" + demoapi.DefaultClientSecret,
		"BATON_API_KEY=" + demoapi.DefaultAPIKey, "BATON_CA_FILE=" + a.caFile,
		"BATON_ALLOW_ORIGIN=" + strings.Join(demoOrigins, ","), "BATON_CONNECT_TO=" + strings.Join(a.connectTo(), ",")}
}

func demoModule(t *testing.T) string { return wasmbuild.Module(t, "examples/baton-demo/wasm") }

// noDemoSecrets fails the test if out holds either secret the guest was
// given.
func noDemoSecrets(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range []string{demoapi.DefaultClientSecret, demoapi.DefaultAPIKey} {
		if strings.Contains(out, s) {
			t.Errorf("%s holds the secret %q", what, s)
		}
	}
}

// checkDemoC1Z checks that the c1z at path holds every user, group and
// role of api and every membership.
func checkDemoC1Z(t *testing.T, path string, api *demoAPI) *inspect.Snapshot {
	t.Helper()
	snap, err := inspect.Load(context.Background(), path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range snap.Resources {
		counts[r.GetId().GetResourceType()]++
	}
	if want := map[string]int{"org": 1, "user": len(api.Users()), "group": len(api.Groups()), "role": len(api.Roles())}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("%s: resources %v, want %v", filepath.Base(path), counts, want)
	}
	grants := map[string]bool{}
	for _, g := range snap.Grants {
		grants[g.GetId()] = true
	}
	for _, g := range api.Groups() {
		for _, m := range api.Members(g.ID) {
			if !grants["group:"+g.ID+":member:user:"+m.UserID] {
				t.Errorf("%s lacks the membership of %s in %s", filepath.Base(path), m.UserID, g.ID)
			}
		}
	}
	return snap
}

// outsider is a user who is not a member of group gid.
func (a *demoAPI) outsider(t *testing.T, gid string) string {
	t.Helper()
	for _, u := range a.Users() {
		if !a.isMember(gid, u.ID) {
			return u.ID
		}
	}
	t.Fatalf("every user is a member of %s", gid)
	return ""
}

func (a *demoAPI) isMember(gid, uid string) bool {
	return slices.ContainsFunc(a.Members(gid), func(m demoapi.Member) bool { return m.UserID == uid })
}

// TestServiceModeBatonSDKGuest: the demo guest, configured only through
// the environment, in ConductorOne service mode against the fake
// ConductorOne: Hello with its metadata, a sync task uploading a c1z of
// the demo API, a grant task, and create-account and delete tasks, each
// changing the API.
func TestServiceModeBatonSDKGuest(t *testing.T) {
	api := startDemoAPI(t)
	c1 := fakec1.Start(t)
	env := append(append(c1.Env(), api.env(demoModule(t))...), "BATON_PROVISIONING=true")
	p := start(t, env)
	if err := c1.WaitHello(ctxTimeout(t, 60*time.Second)); err != nil {
		t.Fatalf("no Hello: %v\n%s", err, p.stderr)
	}
	if md := c1.Hellos()[0].GetConnectorMetadata(); md.GetDisplayName() != "Demo" || len(md.GetCapabilities().GetResourceTypeCapabilities()) != 4 {
		t.Errorf("Hello metadata: %v", md)
	}

	syncID := c1.AddSyncTask()
	fin, err := c1.WaitFinished(ctxTimeout(t, 120*time.Second), syncID)
	if err != nil || fin.GetSuccess() == nil {
		t.Fatalf("sync task: %v %v\n%s", err, fin, p.stderr)
	}
	c1z, ok := c1.Upload(syncID)
	if !ok {
		t.Fatal("the sync task uploaded nothing")
	}
	path := filepath.Join(t.TempDir(), "up.c1z")
	if err := os.WriteFile(path, c1z, 0o600); err != nil {
		t.Fatal(err)
	}
	snap := checkDemoC1Z(t, path, api)

	// A grant as ConductorOne sends it: the entitlement and the principal
	// from the uploaded c1z.
	g := api.Groups()[1]
	uid := api.outsider(t, g.ID)
	var ent *v2.Entitlement
	var user *v2.Resource
	for _, e := range snap.Entitlements {
		if e.GetId() == "group:"+g.ID+":member" {
			ent = e
		}
	}
	for _, r := range snap.Resources {
		if r.GetId().GetResourceType() == "user" && r.GetId().GetResource() == uid {
			user = r
		}
	}
	if ent == nil || user == nil {
		t.Fatalf("the uploaded c1z lacks group:%s:member or user %s", g.ID, uid)
	}
	grantID := c1.AddGrantTask(ent, user)
	if fin, err := c1.WaitFinished(ctxTimeout(t, 60*time.Second), grantID); err != nil || fin.GetSuccess() == nil {
		t.Fatalf("grant task: %v %v\n%s", err, fin, p.stderr)
	}
	if !api.isMember(g.ID, uid) {
		t.Fatalf("after the grant task %s is not a member of %s", uid, g.ID)
	}
	// Every later sync sees the grant, whichever instance lists the
	// group's members: no instance answers from a page cached before it.
	for i := range 3 {
		id := c1.AddSyncTask()
		if fin, err := c1.WaitFinished(ctxTimeout(t, 120*time.Second), id); err != nil || fin.GetSuccess() == nil {
			t.Fatalf("sync task %d after the grant: %v %v\n%s", i, err, fin, p.stderr)
		}
		c1z, ok := c1.Upload(id)
		if !ok {
			t.Fatalf("sync task %d after the grant uploaded nothing", i)
		}
		path := filepath.Join(t.TempDir(), "after.c1z")
		if err := os.WriteFile(path, c1z, 0o600); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(checkDemoC1Z(t, path, api).Grants, func(gr *v2.Grant) bool {
			return gr.GetEntitlement().GetId() == "group:"+g.ID+":member" && gr.GetPrincipal().GetId().GetResource() == uid
		}) {
			t.Errorf("sync %d after the grant lacks %s's membership of %s", i, uid, g.ID)
		}
	}

	id := c1.AddCreateAccountTask(accountTaskInfo(t, map[string]any{"email": "svc.hire@acme.demo.test", "login": "svc.hire"}), "user")
	fin, err = c1.WaitFinished(ctxTimeout(t, 60*time.Second), id)
	if err != nil || fin.GetSuccess() == nil {
		t.Fatalf("create-account task: %v %v\n%s", err, fin, p.stderr)
	}
	var resp v2.CreateAccountResponse
	if err := fin.GetSuccess().GetResponse().UnmarshalTo(&resp); err != nil || resp.GetSuccess().GetResource().GetId().GetResourceType() != "user" {
		t.Fatalf("create-account response %v (%v)", &resp, err)
	}
	created := resp.GetSuccess().GetResource().GetId().GetResource()
	if !slices.ContainsFunc(api.Users(), func(u demoapi.User) bool { return u.ID == created && u.Login == "svc.hire" }) {
		t.Fatalf("the API has no user %s (svc.hire) after the create-account task", created)
	}
	id = c1.AddDeleteResourceTask(v2.ResourceId_builder{ResourceType: "user", Resource: created}.Build(), nil)
	if fin, err := c1.WaitFinished(ctxTimeout(t, 60*time.Second), id); err != nil || fin.GetSuccess() == nil {
		t.Fatalf("delete task: %v %v\n%s", err, fin, p.stderr)
	}
	if slices.ContainsFunc(api.Users(), func(u demoapi.User) bool { return u.ID == created }) {
		t.Fatalf("user %s is still there after the delete task", created)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM while idle; stderr:\n%s", code, p.stderr)
	}
	noDemoSecrets(t, "the log", p.stderr.String())
	for _, e := range c1.Errors() {
		t.Errorf("protocol violation seen by the fake ConductorOne: %v", e)
	}
}

// TestServeBatonSDKTenant: serve runs a baton-sdk tenant of runner.toml
// (origins, connect_to, ca_file, [tenants.config] with its secrets as
// env: and file: references) beside a Segment tenant: it syncs at start,
// /status and /metrics show it as they show the Segment tenant, and the
// audit records of its requests name the origins' real hosts, never the
// address dialed nor a secret.
func TestServeBatonSDKTenant(t *testing.T) {
	api := startDemoAPI(t)
	_, _, simURL := writableSim(t, 10, 0)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "api-key")
	if err := os.WriteFile(keyFile, []byte(demoapi.DefaultAPIKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	quote := func(xs []string) string {
		b, _ := json.Marshal(xs)
		return string(b)
	}
	body := fmt.Sprintf(`[runtime]
listen = "127.0.0.1:%d"
[connectors.segment]
wasm = "embedded:segment"
[connectors.demo]
wasm = %q
kind = "baton-sdk"
%s
[[tenants]]
name = "acme-demo"
connector = "demo"
mode = "sync"
origins = %s
connect_to = %s
ca_file = %q
  [tenants.config]
  demo-client-id = %q
  demo-client-secret = "env:DEMO_CLIENT_SECRET"
  api-key = "file:%s"
  [tenants.sync]
  interval = "1h"
  output = "out/acme-demo.c1z"
`, port, demoModule(t), tenantTOML("seg", simURL), quote(demoOrigins), quote(api.connectTo()), api.caFile, demoapi.DefaultClientID, keyFile)
	path := filepath.Join(dir, "runner.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, []string{"SIM_TOKEN=" + segmentsim.DefaultToken, "DEMO_CLIENT_SECRET=" + demoapi.DefaultClientSecret},
		"serve", "--config", path, "--log-level", "debug")

	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	synced := func(tenant string) bool {
		_, body := get(metricsURL)
		return strings.Contains(body, `baton_runner_syncs_total{result="success",tenant="`+tenant+`"} 1`)
	}
	waitUntil(t, 120*time.Second, "both tenants' first syncs", func() bool { return synced("acme-demo") && synced("seg") })
	checkDemoC1Z(t, filepath.Join(dir, "out", "acme-demo.c1z"), api)

	_, metrics := get(metricsURL)
	for _, name := range []string{"baton_runner_tenant_up", "baton_runner_tenant_phase", "baton_runner_tenant_last_success_timestamp_seconds",
		"baton_runner_api_requests_total", "baton_runner_sync_duration_seconds_count", "baton_runner_guest_instances_created_total"} {
		for _, tenant := range []string{"seg", "acme-demo"} {
			if !hasSeries(metrics, name, tenant) {
				t.Errorf("/metrics has %s for no tenant %q", name, tenant)
			}
		}
	}
	if !strings.Contains(metrics, `baton_runner_api_requests_total{status="200",tenant="acme-demo"}`) {
		t.Errorf("/metrics counts no successful request of acme-demo")
	}
	_, status := get(fmt.Sprintf("http://127.0.0.1:%d/status", port))
	var st struct{ Tenants []runner.TenantStatus }
	if err := json.Unmarshal([]byte(status), &st); err != nil {
		t.Fatalf("/status: %v\n%s", err, status)
	}
	byName := map[string]runner.TenantStatus{}
	for _, s := range st.Tenants {
		byName[s.Name] = s
	}
	demo, seg := byName["acme-demo"], byName["seg"]
	if demo.LastSuccess == nil || demo.NextRun == nil || demo.ConsecutiveFailures != 0 || demo.State != seg.State || demo.Phase != seg.Phase {
		t.Errorf("/status of acme-demo %+v, want it as the Segment tenant's %+v with a last success", demo, seg)
	}

	// Audit: every request of the demo tenant names the origin it was
	// allowed by, and the ones that carried a secret say how many.
	hosts, secrets := map[string]int{}, 0
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		var l struct {
			Msg     string
			Tenant  string
			Request struct {
				Host, Path string
				Status     int
				Secrets    int
			}
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Msg != "egress" || l.Tenant != "acme-demo" {
			continue
		}
		hosts[l.Request.Host]++
		secrets += l.Request.Secrets
		if l.Request.Status != 200 {
			t.Errorf("audited request %+v did not succeed", l.Request)
		}
	}
	api443, auth443 := demoapi.DefaultAPIHost+":443", demoapi.DefaultAuthHost+":443"
	if len(hosts) != 2 || hosts[api443] < 5 || hosts[auth443] < 1 || secrets < hosts[auth443] {
		t.Errorf("audited hosts %v (%d secrets put in), want requests to %s and %s only, the token requests carrying the client secret", hosts, secrets, api443, auth443)
	}
	if n := api.Requests("/oauth/token") + api.Requests("/v1/users") + api.Requests("/v1/org"); hosts[api443]+hosts[auth443] < n {
		t.Errorf("%d requests audited, fewer than the %d the API served for tokens, users and the org", hosts[api443]+hosts[auth443], n)
	}
	if strings.Contains(p.stderr.String(), api.addr) {
		t.Errorf("the log names the address dialed (%s) rather than the origin", api.addr)
	}
	noDemoSecrets(t, "serve's log", p.stderr.String())

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, p.stderr)
	}
}

// hasSeries reports whether exposition holds a sample of metric name for
// tenant.
func hasSeries(exposition, name, tenant string) bool {
	for _, line := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, `tenant="`+tenant+`"`) {
			return true
		}
	}
	return false
}

// TestBatonSDKGuestLifecycleFlags: baton-sdk's one-shot flags reach the
// guest's own account manager, deleter and getter through the binary:
// create an account, again (it exists), delete it, again (already gone),
// and a targeted sync of one group.
func TestBatonSDKGuestLifecycleFlags(t *testing.T) {
	api := startDemoAPI(t)
	dir := t.TempDir()
	base := append([]string{"--module", demoModule(t)}, api.flags()...)
	oneShot := func(args ...string) result {
		t.Helper()
		res := run(t, dir, nil, append(slices.Clone(base), args...)...)
		noDemoSecrets(t, "the output", res.stdout+res.stderr)
		return res
	}

	create := []string{"--create-account-email", "cli.hire@acme.demo.test", "--create-account-login", "cli.hire"}
	res := oneShot(create...)
	newest := api.Users()[len(api.Users())-1]
	if res.code != 0 || newest.Login != "cli.hire" || res.stdout != "create account cli.hire@acme.demo.test: created user:"+newest.ID+"\n" {
		t.Fatalf("create: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	n := len(api.Users())
	if res := oneShot(create...); res.code != 0 || !strings.Contains(res.stdout, "already exists as user:"+newest.ID) || len(api.Users()) != n {
		t.Fatalf("create again: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	if res := oneShot("--create-account-profile", `{"login":"nomail"}`, "--create-account-login", "x"); res.code == 0 || !strings.Contains(res.stderr, "needs an email") {
		t.Errorf("create without an email: exit %d, stderr %s", res.code, res.stderr)
	}

	del := []string{"--delete-resource", newest.ID, "--delete-resource-type", "user"}
	if res := oneShot(del...); res.code != 0 || res.stdout != "delete user:"+newest.ID+": done\n" || len(api.Users()) != n-1 {
		t.Fatalf("delete: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	if res := oneShot(del...); res.code != 0 || !strings.Contains(res.stdout, "already gone, nothing changed") {
		t.Fatalf("delete again: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	if res := oneShot("--delete-resource", "g00", "--delete-resource-type", "group"); res.code == 0 || !strings.Contains(res.stderr, "not supported") || len(api.Groups()) != demoSeed.Groups {
		t.Errorf("delete a group: exit %d, stderr %s", res.code, res.stderr)
	}

	g := api.Groups()[2]
	res = oneShot("--sync-resources", "bid:r:org/acme/group/"+g.ID, "-f", "one.c1z")
	if res.code != 0 || !strings.Contains(res.stdout, "synced group:"+g.ID+" into one.c1z") {
		t.Fatalf("targeted sync: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	snap, err := inspect.Load(context.Background(), filepath.Join(dir, "one.c1z"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, m := range api.Members(g.ID) {
		want["group:"+g.ID+":member:user:"+m.UserID] = true
	}
	got := map[string]bool{}
	for _, gr := range snap.Grants {
		got[gr.GetId()] = true
	}
	if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the targeted sync's grants %v, want the memberships of %s %v", got, g.ID, want)
	}
}
