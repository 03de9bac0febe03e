package securitytest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/internal/egresshook"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

const hostileToken = "tok-hostile-test-0d9e"

// outcome is what the host must do with an attack.
type outcome int

const (
	// contained: the call succeeds and the guest reports what it saw,
	// which check judges; the instance is kept.
	contained outcome = iota
	// denied: every request of the attack is refused by the egress rules
	// (egress_denied to the guest, Record.Denied in the audit log).
	denied
	// trapped: the sandbox stops the call (gRPC Internal, a trap or output
	// error in the pool's counters) and discards the instance.
	trapped
)

type attack struct {
	name     string
	settings map[string]string
	// egress customises the tenant's egress (default: the origin server).
	egress  func(*egress.Config)
	outcome outcome
	kind    sandbox.ErrorKind // for trapped
	check   func(t *testing.T, prof map[string]string, o *originServer, a *auditLog)
}

func noErrNil(t *testing.T, prof map[string]string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if strings.Contains(prof[k], "err=<nil>") {
			t.Errorf("%s: %q: the guest succeeded", k, prof[k])
		}
	}
}

func attacks(o *originServer, evil *evilServer) []attack {
	egressTo := func(path string) map[string]string { return map[string]string{"attack": "egress", "path": path} }
	privateName := func(name, ip string) func(*egress.Config) {
		return func(c *egress.Config) {
			c.BaseURL = "https://" + name
			egresshook.Set(c, egresshook.Hooks{Resolver: fakeResolver{name: {ip}}})
		}
	}
	var out []attack
	out = append(out,
		attack{name: "files", settings: map[string]string{"attack": "files"}, check: func(t *testing.T, p map[string]string, _ *originServer, _ *auditLog) {
			noErrNil(t, p, "read0", "read1", "read2", "read3", "write")
			if !strings.HasPrefix(p["readdir"], "0 entries") {
				t.Errorf("readdir / = %q, want nothing", p["readdir"])
			}
		}},
		attack{name: "env", settings: map[string]string{"attack": "env"}, check: func(t *testing.T, p map[string]string, _ *originServer, _ *auditLog) {
			// Go's wasip1 port reports the constant host name "wasip1".
			if p["env"] != "" || p["hostname"] != "wasip1" || !strings.Contains(p["wd"], "err=") {
				t.Errorf("guest saw env=%q hostname=%q", p["env"], p["hostname"])
			}
			// Its one argument is the sandbox's constant program name.
			if p["args"] != "guest" {
				t.Errorf("guest saw arguments %q, want only the program name guest", p["args"])
			}
		}},
		attack{name: "socket", settings: map[string]string{"attack": "socket", "otherPort": evil.port()}, check: func(t *testing.T, p map[string]string, _ *originServer, _ *auditLog) {
			for _, k := range []string{"dial0", "dial1", "dial2"} {
				if !strings.Contains(p[k], "connected=false") || strings.Contains(p[k], "err=<nil>") {
					t.Errorf("%s: %q, want a failure", k, p[k])
				}
			}
			// net.Listen succeeds: Go's wasip1 port falls back to an
			// in-process fake network when the runtime grants no WASI
			// sockets (the sandbox grants none), so nothing listens on
			// the host; the failed dials above show it reaches nothing.
			t.Logf("listen: %s", p["listen"])
		}},
	)
	for _, path := range []string{
		"http://evil.test/",
		"//127.0.0.1:" + evil.port() + "/x",
		"http://127.0.0.1:" + evil.port() + "/",
		evil.URL + "/",
		"http://169.254.169.254/latest/meta-data",
		"http://[::1]/",
		"http://10.0.0.1/",
		"/%2F%2Fevil.test",
		"/%2f%2fevil.test/x",
		"/\\evil.test",
		"/\\\\evil.test",
		"/@evil.test",
		"/x@evil.test/",
		"/%2e%2e/%2e%2e/etc/passwd",
		"/a/../../admin",
		"/x#@evil.test",
		"/x\r\nHost: evil.test",
		"evil.test/",
		"",
	} {
		out = append(out, attack{name: "path " + path, settings: egressTo(path), outcome: denied})
	}
	out = append(out,
		attack{name: "method CONNECT", settings: map[string]string{"attack": "egress", "path": "/", "method": "CONNECT"}, outcome: denied},
		attack{name: "method TRACE", settings: map[string]string{"attack": "egress", "path": "/", "method": "TRACE"}, outcome: denied},
		// A name the host resolves: private, link-local (cloud metadata)
		// and loopback answers are refused before any connection.
		attack{name: "name resolving to 10/8", settings: egressTo("/"), egress: privateName("api.internal.test", "10.0.0.7"), outcome: denied},
		attack{name: "name resolving to metadata", settings: egressTo("/latest/meta-data"), egress: privateName("metadata.test", "169.254.169.254"), outcome: denied},
		attack{name: "name resolving to loopback", settings: egressTo("/"), egress: privateName("rebind.test", "127.0.0.1"), outcome: denied},
		attack{name: "name resolving to mapped v6", settings: egressTo("/"), egress: privateName("mapped.test", "::ffff:192.168.1.1"), outcome: denied},
		// Redirects are never followed: the 302 comes back unfollowed.
		attack{name: "redirect off origin", settings: egressTo("/redirect"), check: func(t *testing.T, p map[string]string, _ *originServer, a *auditLog) {
			if p["status"] != "302" || !strings.HasPrefix(p["location"], evil.URL) {
				t.Errorf("guest saw status %q location %q, want the unfollowed 302", p["status"], p["location"])
			}
			if recs := a.records(); len(recs) != 1 || recs[0].Status != 302 || recs[0].Path != "/redirect" {
				t.Errorf("audit = %+v, want one record of the 302", recs)
			}
		}},
		attack{name: "credential headers", settings: map[string]string{"attack": "headers"}, check: func(t *testing.T, p map[string]string, o *originServer, _ *auditLog) {
			want := `{"authorization":["host-token"],"cookie":null,"host":"` + strings.TrimPrefix(o.URL, "http://") + `","proxyAuthorization":null,"xGuest":"visible"}`
			if strings.TrimSpace(p["body"]) != want {
				t.Errorf("origin received %s\nwant %s", p["body"], want)
			}
		}},
		attack{name: "memory scan", settings: map[string]string{"attack": "memscan", "path": "/canary",
			"tokenPrefix": hexPrefix(hostileToken), "markerPrefix": hexPrefix(marker)},
			check: func(t *testing.T, p map[string]string, _ *originServer, _ *auditLog) {
				if p["tokenPrefixFound"] != "0" || p["markerPrefixFound"] == "0" || p["tokenPrefixErr"] != "" {
					t.Errorf("memory scan: %v (want the marker found and the token not)", p)
				}
			}},
		attack{name: "garbage host-function input", settings: map[string]string{"attack": "garbage"}, check: func(t *testing.T, p map[string]string, _ *originServer, a *auditLog) {
			for k, v := range p {
				switch {
				case k == "attack":
				case k == "http-doc5":
					// Valid JSON with no method: refused by the egress
					// rules rather than by the decoder.
					if !strings.HasPrefix(v, "error egress_denied") {
						t.Errorf("baton_http(%s) = %q, want an egress_denied error value", k, v)
					}
				case strings.HasPrefix(k, "http-"), strings.HasPrefix(k, "batch-"):
					if !strings.HasPrefix(v, "error invalid_argument") {
						t.Errorf("%s = %q, want an invalid_argument error value", k, v)
					}
				case strings.HasPrefix(k, "get-"):
					if v != "0" {
						t.Errorf("baton_session_get(%s) = %q, want a miss", k, v)
					}
				case strings.HasPrefix(k, "set-"):
					if v == "0" && k != "set-doc5" {
						t.Errorf("baton_session_set(%s) accepted garbage", k)
					}
				}
			}
			// Only the well-formed document reached the egress rules.
			if recs := a.records(); len(recs) != 1 || recs[0].Denied == "" {
				t.Errorf("audit = %+v, want one denied record", recs)
			}
		}},
		attack{name: "extism http_request", settings: map[string]string{"attack": "extism-http", "url": evil.URL + "/"}, outcome: trapped, kind: sandbox.KindTrap},
		attack{name: "huge output", settings: map[string]string{"attack": "huge-output", "bytes": "2097152"}, outcome: trapped, kind: sandbox.KindOutput},
		attack{name: "deep recursion", settings: map[string]string{"attack": "recursion"}, outcome: trapped, kind: sandbox.KindTrap},
	)
	return out
}

func hexPrefix(s string) string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < 8; i++ {
		b.WriteByte(digits[s[i]>>4])
		b.WriteByte(digits[s[i]&15])
	}
	return b.String()
}

// TestHostileGuest runs every attack of the hostile guest through the real
// host path, each as its own tenant, while a healthy Segment tenant syncs
// in the same process, and checks that each attack is refused or
// contained, audited, and leaves the host and the other tenant unharmed.
func TestHostileGuest(t *testing.T) {
	t.Setenv("BATON_SECRET_IN_HOST_ENV", "host-env-secret-must-not-leak")
	evil := newEvil(t)
	origin := newOrigin(t, hostileToken, evil.URL)
	core, logs := observer.New(zap.DebugLevel)
	logger := zap.New(core)

	stop := make(chan struct{})
	results := healthy(t, stop)

	for _, a := range attacks(origin, evil) {
		t.Run(a.name, func(t *testing.T) {
			before := evil.hits.Load()
			eg := egress.Config{BaseURL: origin.URL, Token: secret.New(hostileToken),
				DialTimeout: 2 * time.Second, MaxRetries: -1}
			if a.egress != nil {
				a.egress(&eg)
			}
			ht := newHostileTenant(t, "hostile", eg, a.settings, logger)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			prof, err := ht.list(ctx)
			stats := ht.tn.Stats()
			t.Logf("guest observed %v; err %v; stats %+v", prof, err, stats)
			switch a.outcome {
			case contained:
				if err != nil {
					t.Fatalf("call failed: %v", err)
				}
				if stats.Traps+stats.Timeouts+stats.OutputErrors != 0 || stats.InstancesCreated != 1 {
					t.Errorf("stats %+v: a contained attack must keep its instance", stats)
				}
				a.check(t, prof, origin, ht.audit)
			case denied:
				if err != nil {
					t.Fatalf("call failed: %v", err)
				}
				if prof["code"] != "egress_denied" || !strings.Contains(prof["error"], "egress denied") {
					t.Errorf("guest saw %v, want an egress_denied error value", prof)
				}
				recs := ht.audit.records()
				if len(recs) != 1 || recs[0].Denied == "" || recs[0].Status != 0 {
					t.Errorf("audit = %+v, want one denied record", recs)
				}
				// Guest-controlled fields cannot forge audit log lines.
				for _, r := range recs {
					if strings.ContainsAny(r.Method+r.Path+r.Denied, "\r\n\x00") {
						t.Errorf("audit record %+v holds control characters", r)
					}
				}
				if stats.Traps+stats.Timeouts+stats.OutputErrors != 0 {
					t.Errorf("stats %+v: a refusal is a value, not a trap", stats)
				}
			case trapped:
				if status.Code(err) != codes.Internal {
					t.Fatalf("err = %v, want Internal", err)
				}
				var n uint64
				switch a.kind {
				case sandbox.KindTrap:
					n = stats.Traps
				case sandbox.KindOutput:
					n = stats.OutputErrors
				}
				if n != 1 || !strings.Contains(err.Error(), string(a.kind)) {
					t.Errorf("err = %v, stats %+v: want one %s", err, stats, a.kind)
				}
				// The discarded instance is replaced on the next call.
				if _, err := ht.list(ctx); status.Code(err) != codes.Internal {
					t.Errorf("second call: err = %v", err)
				}
				if s := ht.tn.Stats(); s.InstancesCreated != 2 {
					t.Errorf("instances created = %d after two stopped calls, want 2", s.InstancesCreated)
				}
			}
			if n := evil.hits.Load() - before; n != 0 {
				t.Errorf("the attacker's server received %d requests", n)
			}
			for _, v := range prof {
				if contains(v, hostileToken) || contains(v, "host-env-secret-must-not-leak") {
					t.Errorf("the guest obtained a secret: %q", v)
				}
			}
		})
	}
	close(stop)
	n := 0
	for err := range results {
		n++
		if err != nil {
			t.Errorf("healthy tenant's sync %d failed next to the hostile guest: %v", n, err)
		}
	}
	if n == 0 {
		t.Error("the healthy tenant never synced")
	}
	// The sandbox logged each stopped call.
	if got := logs.FilterMessageSnippet("discarding its instance").Len(); got < 6 {
		t.Errorf("%d discard warnings logged, want one per stopped call (6)", got)
	}
}

// checkCounts checks that the c1z holds exactly want[type] resources of
// each type in want.
func checkCounts(path, tmp string, want map[string]int) error {
	snap, err := inspect.Load(context.Background(), path, tmp)
	if err != nil {
		return err
	}
	got := map[string]int{}
	for _, c := range snap.Summary().Types {
		got[c.ResourceType] = c.Resources
	}
	for rt, n := range want {
		if got[rt] != n {
			return fmt.Errorf("the c1z holds %d %s resources, want %d", got[rt], rt, n)
		}
	}
	return nil
}

// TestRefusedModules: a guest speaking another ABI version and a file
// that is not WebAssembly are refused at compile time. The refusals are
// tested in host/sandbox (TestRefusesOtherABIVersions, TestRefusesNonWasm);
// this is the brief end-to-end check with the security test's settings.
func TestRefusedModules(t *testing.T) {
	wasm, err := os.ReadFile(wasmbuild.Module(t, "internal/testguests/abiv2"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"abiv2": wasm, "shell script": []byte("#!/bin/sh\nrm -rf /\n"), "empty": nil} {
		m, err := sandbox.Compile(context.Background(), sandbox.Config{Wasm: b, CacheDir: wasmbuild.CacheDir})
		if err == nil {
			_ = m.Close(context.Background())
			t.Errorf("%s: compiled", name)
		}
	}
}
