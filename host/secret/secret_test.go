package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

const value = "sk-test-SENTINEL-4f1c"

// TestNeverPrints: every fmt verb, JSON, text, slog and zap yield the
// placeholder, also when the Secret sits in a struct (exported or not), a
// slice, a map or behind a pointer.
func TestNeverPrints(t *testing.T) {
	s := New(value)
	if s.Reveal() != value || s.IsZero() {
		t.Fatalf("Reveal/IsZero broken")
	}
	type exported struct{ Token Secret }
	type unexported struct{ token Secret }

	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s"} {
		out = append(out,
			fmt.Sprintf(verb, s), fmt.Sprintf(verb, &s),
			fmt.Sprintf(verb, exported{s}), fmt.Sprintf(verb, unexported{s}),
			fmt.Sprintf(verb, []Secret{s}), fmt.Sprintf(verb, map[string]Secret{"k": s}),
		)
	}
	out = append(out, fmt.Sprint(s), fmt.Sprintln(s), s.String(), s.GoString())
	if got := fmt.Sprintf("%v", s); got != Redacted {
		t.Errorf("%%v = %q, want %s", got, Redacted)
	}

	j1, _ := json.Marshal(s)
	j2, _ := json.Marshal(exported{s})
	j3, _ := json.Marshal(map[string]any{"t": s, "p": &s})
	txt, _ := s.MarshalText()
	if string(j1) != `"[REDACTED]"` || string(txt) != Redacted {
		t.Errorf("json = %s, text = %s", j1, txt)
	}
	out = append(out, string(j1), string(j2), string(j3), string(txt))

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "token", s, "cfg", exported{s})
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "token", s)
	out = append(out, buf.String())

	core, logs := observer.New(zap.DebugLevel)
	zap.New(core).Info("x", zap.Any("token", s), zap.Stringer("s", s), zap.Any("cfg", exported{s}))
	for _, e := range logs.All() {
		out = append(out, fmt.Sprint(e.ContextMap()))
	}

	for _, o := range out {
		if strings.Contains(o, value) || strings.Contains(o, "SENTINEL") {
			t.Errorf("printed secret leaks the value: %q", o)
		}
	}
}

func TestZero(t *testing.T) {
	var z Secret
	if !z.IsZero() || z.Reveal() != "" || !New("").IsZero() {
		t.Errorf("zero Secret misbehaves")
	}
	if fmt.Sprint(z) != Redacted {
		t.Errorf("zero Secret prints %q", fmt.Sprint(z))
	}
}
