package main

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// TestAuditTrailIsComplete: with JSON logs, every request the simulator
// served has its audit record in the default audit output (zap's sampling
// kept about a third of them).
func TestAuditTrailIsComplete(t *testing.T) {
	sim := segmentsim.NewServer(segmentsim.Generate(segmentsim.DefaultConfig(300)), segmentsim.Options{})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	res := run(t, t.TempDir(), nil, "sync", "--base-url", ts.URL, "--token", segmentsim.DefaultToken, "--log-level", "debug", "--log-format", "json")
	if res.code != 0 {
		t.Fatalf("sync exited %d: %s", res.code, res.stderr)
	}
	records := 0
	for _, line := range strings.Split(res.stderr, "\n") {
		var l struct{ Msg string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "egress" {
			records++
		}
	}
	if served := sim.RequestCount(); records != served || served < 200 {
		t.Errorf("%d audit records for %d requests served (want equal, and over zap's 100 a second)", records, served)
	}
}

// TestAuditWriteFailuresAreReported: an audit file that cannot be written
// (a full disk) is an error in the log, naming how many records were lost.
func TestAuditWriteFailuresAreReported(t *testing.T) {
	res := run(t, t.TempDir(), nil, "sync", "--base-url", simURL(t, 10), "--token", segmentsim.DefaultToken, "--audit-log", "/dev/full", "--log-format", "json")
	for _, want := range []string{"cannot write to the audit log", `"records_lost":`, "the audit log is incomplete"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
		}
	}
}
