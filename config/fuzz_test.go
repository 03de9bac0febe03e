package config

import (
	"os"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzParse checks that Parse never panics, that its errors are *Error
// values joined, that errors about keys present in the input (and syntax
// errors) carry a line, and that an inline token's value never appears in
// an error.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../runner.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	f.Add(minimal)
	f.Add(strings.Replace(minimal, `"env:ACME_TOKEN"`, `"`+fakeSecret+`"`, 1))
	f.Add(strings.Replace(minimal, `"env:ACME_TOKEN"`, fakeSecret, 1))
	f.Add(strings.Replace(minimal, `name = "acme"`, `name = "acme`, 1))
	f.Add(strings.Replace(minimal, `mode = "sync"`, "mode = \"service\"\ntokn = 1\n[tenants.service]\nclient_id = 7", 1))
	f.Add("[runtime]\nmemory_limit_mib = 1\ncall_timeout = \"x\"\n" + minimal + "[[tenants]]\nname = \"acme\"\n")
	f.Add(`connectors = { segment = { wasm = "embedded:segment" } }` + "\ntenants = [{ name = \"a\", connector = \"segment\", token = \"" + fakeSecret + "\", mode = \"sync\", sync = { interval = \"1s\" } }]\n")
	f.Add("tenants = 3\n")
	f.Add("[[tenants]]\n[tenants.sync]\n[[tenants.sync.x]]\n\"q\\\"k\" = '''\n[a]\n'''\n")

	f.Fuzz(func(t *testing.T, src string) {
		c, err := Parse("runner.toml", []byte(src))
		if err == nil {
			if c == nil {
				t.Fatal("nil Config without error")
			}
			return
		}
		if c != nil {
			t.Fatal("Config with error")
		}
		joined, ok := err.(interface{ Unwrap() []error })
		if !ok {
			t.Fatalf("error is not joined: %T %v", err, err)
		}
		var raw map[string]any
		_, decodeErr := toml.Decode(src, &raw)
		for _, m := range joined.Unwrap() {
			e, ok := m.(*Error)
			if !ok {
				t.Fatalf("joined error %T is not *Error: %v", m, m)
			}
			if e.File != "runner.toml" {
				t.Fatalf("File = %q", e.File)
			}
			if e.Key == "" && decodeErr != nil && e.Line <= 0 {
				t.Fatalf("syntax error without a line: %v", e)
			}
			if e.Key != "" && decodeErr == nil && e.Line <= 0 {
				root := rootKey(e.Key)
				for k := range raw {
					if joinKey("", k) == root {
						t.Fatalf("error about key %s, present in the input, has no line: %v", e.Key, e)
					}
				}
			}
		}
		for _, tok := range inlineTokens(raw) {
			if !strings.Contains(err.Error(), tok) {
				continue
			}
			// Only a token whose value occurs nowhere else in the input
			// (so the error cannot be quoting another key or value).
			if strings.Count(src, tok) == 1 {
				line := src[strings.LastIndex(src[:strings.Index(src, tok)], "\n")+1:]
				if k := strings.TrimLeft(line, " \t"); strings.HasPrefix(k, "token") {
					t.Fatalf("error shows the inline token %q:\n%v", tok, err)
				}
			}
		}
	})
}

// rootKey returns the first segment of a key built by joinKey.
func rootKey(key string) string {
	for key != "" {
		p := parentKey(key)
		if p == "" {
			return key
		}
		key = p
	}
	return key
}

// inlineTokens returns the tokens of raw's tenants that are not
// references and long enough not to match by chance.
func inlineTokens(raw map[string]any) []string {
	var tables []map[string]any
	switch x := raw["tenants"].(type) {
	case []map[string]any:
		tables = x
	case []any:
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				tables = append(tables, m)
			}
		}
	}
	var out []string
	for _, m := range tables {
		tok, _ := m["token"].(string)
		if len(tok) >= 8 && !strings.HasPrefix(tok, "env:") && !strings.HasPrefix(tok, "file:") {
			out = append(out, tok)
		}
	}
	return out
}
