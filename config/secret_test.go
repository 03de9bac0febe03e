package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveEnv(t *testing.T) {
	t.Setenv("BR_TEST_TOKEN", fakeSecret)
	if v, err := EnvRef("BR_TEST_TOKEN").Resolve(); err != nil || v != fakeSecret {
		t.Errorf("Resolve = %q, %v", v, err)
	}
	os.Unsetenv("BR_TEST_TOKEN")
	_, err := EnvRef("BR_TEST_TOKEN").Resolve()
	if err == nil || err.Error() != "env:BR_TEST_TOKEN: environment variable BR_TEST_TOKEN is not set" {
		t.Errorf("unset: %v", err)
	}
	t.Setenv("BR_TEST_TOKEN", "")
	_, err = EnvRef("BR_TEST_TOKEN").Resolve()
	if err == nil || err.Error() != "env:BR_TEST_TOKEN: environment variable BR_TEST_TOKEN is empty" {
		t.Errorf("empty: %v", err)
	}
}

func TestResolveFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) SecretRef {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return FileRef(p)
	}
	for content, want := range map[string]string{
		fakeSecret:          fakeSecret,
		fakeSecret + "\n":   fakeSecret,
		fakeSecret + "\r\n": fakeSecret,
		fakeSecret + "\n\n": fakeSecret + "\n", // only one newline is trimmed
		" " + fakeSecret:    " " + fakeSecret,
	} {
		r := write("token", content)
		if v, err := r.Resolve(); err != nil || v != want {
			t.Errorf("Resolve(%q) = %q, %v", content, v, err)
		}
	}

	missing := FileRef(filepath.Join(dir, "missing"))
	_, err := missing.Resolve()
	if err == nil || err.Error() != "file:"+filepath.Join(dir, "missing")+": no such file or directory" {
		t.Errorf("missing: %v", err)
	}
	for _, content := range []string{"", "\n"} {
		r := write("empty", content)
		if _, err := r.Resolve(); err == nil || err.Error() != r.String()+": file is empty" {
			t.Errorf("empty %q: %v", content, err)
		}
	}
	big := write("big", fakeSecret+strings.Repeat("x", maxSecretFileBytes))
	if _, err := big.Resolve(); err == nil || !strings.Contains(err.Error(), "larger than 64 KiB") || strings.Contains(err.Error(), fakeSecret) {
		t.Errorf("big: %v", err)
	}
	if _, err := FileRef(dir).Resolve(); err == nil || strings.Contains(err.Error(), fakeSecret) {
		t.Errorf("directory: %v", err)
	}
}

func TestResolveLiteralAndZero(t *testing.T) {
	if v, err := LiteralRef("client-id").Resolve(); err != nil || v != "client-id" {
		t.Errorf("literal = %q, %v", v, err)
	}
	if _, err := LiteralRef("").Resolve(); err == nil {
		t.Error("empty literal resolved")
	}
	var zero SecretRef
	if _, err := zero.Resolve(); err == nil {
		t.Errorf("zero: %v", err)
	}
}

// Printing a SecretRef, or a tenant holding one, with %v, %+v or %#v (and
// encoding it as JSON) shows the reference and never a literal's value.
// (fmt bypasses Format inside a wrongly-verbed struct, e.g. %s of a Tenant;
// literals hold only non-secret client ids, so that is acceptable.)
func TestSecretRefPrinting(t *testing.T) {
	if s := EnvRef("X").String(); s != "env:X" {
		t.Errorf("env String = %q", s)
	}
	if s := FileRef("/run/s").String(); s != "file:/run/s" {
		t.Errorf("file String = %q", s)
	}
	lit := LiteralRef(fakeSecret)
	tn := Tenant{Name: "a", Token: EnvRef("T"), Service: &ServiceSettings{ClientID: lit, ClientSecret: EnvRef("S")}}
	for _, f := range []string{"%v", "%+v", "%#v"} {
		for _, v := range []any{lit, tn, &tn, *tn.Service} {
			if s := fmt.Sprintf(f, v); strings.Contains(s, fakeSecret) {
				t.Errorf("%s of %T shows the value: %s", f, v, s)
			}
		}
	}
	for _, f := range []string{"%s", "%q", "%x"} {
		if s := fmt.Sprintf(f, lit); strings.Contains(s, fakeSecret) {
			t.Errorf("%s shows the value: %s", f, s)
		}
	}
	b, err := json.Marshal(tn)
	if err != nil || strings.Contains(string(b), fakeSecret) || !strings.Contains(string(b), `"Token":"env:T"`) {
		t.Errorf("JSON = %s, %v", b, err)
	}
	if s := fmt.Sprintf("%v", *tn.Service); s != "{(inline value) env:S}" {
		t.Errorf("%%v = %s", s)
	}
	if s := fmt.Sprintf("%#v", EnvRef("X")); s != "config.SecretRef(env:X)" {
		t.Errorf("%%#v = %s", s)
	}
}
