package egress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret(testToken)
	if s.Reveal() != testToken || s.IsZero() {
		t.Fatalf("Reveal/IsZero broken")
	}
	type exported struct{ Token Secret }
	type unexported struct{ token Secret }
	cfg := Config{BaseURL: "https://api.segmentapis.com", Token: s}

	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s"} {
		out = append(out,
			fmt.Sprintf(verb, s), fmt.Sprintf(verb, &s),
			fmt.Sprintf(verb, exported{s}), fmt.Sprintf(verb, unexported{s}),
			fmt.Sprintf(verb, []Secret{s}), fmt.Sprintf(verb, map[string]Secret{"k": s}),
		)
	}
	out = append(out, fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(s), fmt.Sprintln(s), s.String(), s.GoString())
	if !strings.Contains(fmt.Sprintf("%v", s), "[REDACTED]") {
		t.Errorf("%%v = %q, want [REDACTED]", fmt.Sprintf("%v", s))
	}

	j1, _ := json.Marshal(s)
	j2, _ := json.Marshal(exported{s})
	j3, _ := json.Marshal(map[string]any{"t": s, "p": &s})
	txt, _ := s.MarshalText()
	if string(j1) != `"[REDACTED]"` || string(txt) != "[REDACTED]" {
		t.Errorf("json = %s, text = %s", j1, txt)
	}
	out = append(out, string(j1), string(j2), string(j3), string(txt))

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "token", s, "cfg", exported{s})
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "token", s)
	out = append(out, buf.String())

	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", *c))

	for _, o := range out {
		noLeak(t, "formatted secret", o)
	}
}

func TestSecretZero(t *testing.T) {
	var z Secret
	if !z.IsZero() || z.Reveal() != "" || !NewSecret("").IsZero() {
		t.Errorf("zero Secret misbehaves")
	}
	if fmt.Sprint(z) != "[REDACTED]" {
		t.Errorf("zero Secret prints %q", fmt.Sprint(z))
	}
}
