package main

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// auditRecords reads an --audit-log file.
func auditRecords(t *testing.T, path string) []egress.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []egress.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r egress.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// TestWrongBaseURLFailsAtOnce: a base URL that cannot work (nothing
// listening, https:// to a plain-HTTP server, a certificate not valid for
// the host) fails the sync on its first request, with the reason and the
// setting to fix, instead of six credential checks of four attempts each.
func TestWrongBaseURLFailsAtOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close()
	plain := simURL(t, 5)
	selfSigned := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(selfSigned.Close)
	for _, tc := range []struct{ name, url, want string }{
		{"nothing listening", "http://" + closed, "nothing accepts connections at " + closed + " (connection refused)"},
		{"https to plain HTTP", strings.Replace(plain, "http://", "https://", 1), "does not speak TLS"},
		{"untrusted certificate", selfSigned.URL, "TLS certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			audit := filepath.Join(dir, "audit.jsonl")
			res := run(t, dir, nil, "sync", "--token", segmentsim.DefaultToken, "--base-url", tc.url, "--audit-log", audit)
			if res.code == 0 {
				t.Fatal("sync succeeded")
			}
			for _, want := range []string{tc.want, "check --base-url (BATON_BASE_URL)", "sync.c1z was not modified"} {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
				}
			}
			if recs := auditRecords(t, audit); len(recs) != 1 || recs[0].Attempts != 1 {
				t.Errorf("audit %+v; want one request of one attempt", recs)
			}
		})
	}
}

// TestRetriesAnnounceThemselves: 5xx answers are retried, by the egress
// client and by baton-sdk's credential check, each wait under
// egress.NotableWait; once they have held the sync that long in total, one
// line says so, and one more when the API answers again.
func TestRetriesAnnounceThemselves(t *testing.T) {
	_, sim, url := writableSim(t, 5, 0)
	// Three credential checks of four attempts each fail: at least 5 s of
	// waits (0.7 s of jittered back-off each, 1 s and 2 s between checks).
	sim.InjectStatus("GET", "/", 503, 12)
	res := run(t, t.TempDir(), nil, "sync", "--token", segmentsim.DefaultToken, "--base-url", url, "--log-format", "json")
	if res.code != 0 {
		t.Fatalf("sync exited %d:\n%s", res.code, res.stderr)
	}
	var failing, again int
	for _, line := range strings.Split(res.stderr, "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch l["msg"] {
		case "API requests are failing; retrying":
			failing++
			if l["reason"] != "retry after HTTP 503" && l["reason"] != "GET /: HTTP 503" {
				t.Errorf("announcement %v does not give the reason", l)
			}
		case "API requests succeed again":
			again++
		}
	}
	if failing != 1 || again != 1 {
		t.Errorf("%d announcements of the failures and %d of their end, want 1 and 1:\n%s", failing, again, res.stderr)
	}
}
