package config

import (
	"os"
	"testing"

	"github.com/BurntSushi/toml"
)

// treeKeys lists the keys of a decoded TOML document as the checker names
// them, tables inside arrays included.
func treeKeys(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		key := joinKey(prefix, k)
		out = append(out, key)
		switch x := v.(type) {
		case map[string]any:
			out = append(out, treeKeys(key, x)...)
		case []map[string]any:
			for i, e := range x {
				out = append(out, indexKey(key, i))
				out = append(out, treeKeys(indexKey(key, i), e)...)
			}
		case []any:
			for i, e := range x {
				if em, ok := e.(map[string]any); ok {
					out = append(out, indexKey(key, i))
					out = append(out, treeKeys(indexKey(key, i), em)...)
				}
			}
		}
	}
	return out
}

// checkAllKeysPlaced asserts that keyPositions placed every key toml decoded.
func checkAllKeysPlaced(t *testing.T, src string) *positions {
	t.Helper()
	var raw map[string]any
	md, err := toml.Decode(src, &raw)
	if err != nil {
		t.Fatalf("test input is not TOML: %v", err)
	}
	p := keyPositions(src, md, raw)
	for _, k := range treeKeys("", raw) {
		if _, ok := p.lines[k]; !ok {
			t.Errorf("key %s not placed; have %v", k, p.lines)
		}
	}
	return p
}

func TestPositionsExampleFile(t *testing.T) {
	data, err := os.ReadFile("../runner.toml")
	if err != nil {
		t.Fatal(err)
	}
	checkAllKeysPlaced(t, string(data))
}

func TestPositions(t *testing.T) {
	src := `# [[tenants]] in a comment is not a header
title = """
[[tenants]]
name = "not a key"
"""
lit = '''
x = 1 '''
"quoted.key" = 1
'single' = "a # not a comment"
a . b = [
  1, # comment ]
  { c = 2, "d e" = { f = 3 } },
]
[ "tab le" . sub ]
g = 1979-05-27 07:32:00Z
[[tenants]]
name = "one"
sync.interval = "1h"
[[tenants]]
name = "two" # comment = 3
  [tenants.sync]
  interval = "1h"
  [[tenants.extra]]
  h = 1
  [[tenants.extra]]
  h = 2
[[tenants]]
e = "\u0041\u00e9\t"
"\u0080\u00e9" = 1
`
	p := checkAllKeysPlaced(t, src)
	for key, line := range map[string]int{
		"title":                    2,
		"lit":                      6,
		`"quoted.key"`:             8,
		"single":                   9,
		"a":                        10,
		"a.b":                      10,
		"a.b[1]":                   12,
		"a.b[1].c":                 12,
		`a.b[1]."d e".f`:           12,
		`"tab le".sub`:             14,
		`"tab le".sub.g`:           15,
		"tenants":                  16,
		"tenants[0]":               16,
		"tenants[0].name":          17,
		"tenants[0].sync":          18,
		"tenants[0].sync.interval": 18,
		"tenants[1].name":          20,
		"tenants[1].sync":          21,
		"tenants[1].sync.interval": 22,
		"tenants[1].extra[0].h":    24,
		"tenants[1].extra[1]":      25,
		"tenants[1].extra[1].h":    26,
		"tenants[2].e":             28,
		`tenants[2]."\u0080é"`:     29,
	} {
		if got := p.line(key); got != line {
			t.Errorf("line(%s) = %d, want %d", key, got, line)
		}
	}
	// Keys absent from the file fall back to their nearest ancestor.
	for key, line := range map[string]int{
		"tenants[1].sync.output":   21,
		"tenants[0].token":         16,
		`"tab le".sub.missing.x`:   14,
		"nothing":                  0,
		`a.b[1]."d e".f.g`:         12,
		`tenants[2]."\u0080é".sub`: 29,
	} {
		if got := p.line(key); got != line {
			t.Errorf("line(%s) = %d, want %d", key, got, line)
		}
	}
}

func TestParentKey(t *testing.T) {
	for key, want := range map[string]string{
		"a":                   "",
		"a.b":                 "a",
		"a[0]":                "a",
		"a[0].b":              "a[0]",
		`a."x.y[1]"`:          "a",
		`a."x\".y"`:           "a",
		`tenants[2]."a b"[3]`: `tenants[2]."a b"`,
	} {
		if got := parentKey(key); got != want {
			t.Errorf("parentKey(%s) = %q, want %q", key, got, want)
		}
	}
}

// Cases a forward text search could get wrong: key-like text in comments,
// strings and multi-line strings, keys spelled quoted, and inline array
// elements that share no key.
func TestPositionsLookalikes(t *testing.T) {
	src := `[[tenants]]
note = "a, name = 'x'" # name = 1
# [[tenants]]
# name = "commented"
text = """
name = "inside a string"
"""
name = "a"
"mode" = 'sync'
[[tenants]]
name = "b" # [tenants.sync]
 [ tenants . sync ]
 interval = "1h"
[x]
arr = [ { p = 1 }, { q = 2 }, { p = 3, "s t" = 4 },
  { p = 5 } ]
`
	p := checkAllKeysPlaced(t, src)
	for key, line := range map[string]int{
		"tenants[0]":               1,
		"tenants[0].note":          2,
		"tenants[0].text":          5,
		"tenants[0].name":          8,
		"tenants[0].mode":          9,
		"tenants[1]":               10,
		"tenants[1].name":          11,
		"tenants[1].sync":          12,
		"tenants[1].sync.interval": 13,
		"x.arr[0].p":               15,
		"x.arr[1].q":               15,
		`x.arr[2]."s t"`:           15,
		"x.arr[3].p":               16,
	} {
		if got := p.line(key); got != line {
			t.Errorf("line(%s) = %d, want %d", key, got, line)
		}
	}
	if _, ok := p.lines["x.arr[1].p"]; ok {
		t.Error("x.arr[1] was given the key p of another element")
	}
}
