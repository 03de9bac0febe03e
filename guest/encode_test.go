package guest

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/baton-runner/baton-runner/abi"
)

// tricky are strings that exercise every escaping rule of encoding/json.
var tricky = []string{
	"", "plain", `quo"te`, `back\slash`, "<script>&amp;</script>", "tab\tnew\nline\rret",
	"\b\f\x00\x01\x1f\x7f", "caf\u00e9 \u65e5\u672c", "line\u2028para\u2029", "bad\xffutf8\xc3",
	"\xe2\x80", "emoji \U0001F600", "trailing\\", "/slash/",
}

type gen struct{ r *rand.Rand }

func (g gen) str() string {
	if g.r.IntN(3) == 0 {
		return tricky[g.r.IntN(len(tricky))]
	}
	b := make([]byte, g.r.IntN(12))
	for i := range b {
		b[i] = byte(g.r.IntN(256))
	}
	if g.r.IntN(2) == 0 {
		return string(b)
	}
	return tricky[g.r.IntN(len(tricky))] + string(b) + tricky[g.r.IntN(len(tricky))]
}

func (g gen) strs() []string {
	switch g.r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	out := make([]string, 1+g.r.IntN(3))
	for i := range out {
		out[i] = g.str()
	}
	return out
}

func (g gen) id() abi.ResourceID { return abi.ResourceID{Type: g.str(), ID: g.str()} }

func (g gen) ref() abi.EntitlementRef { return abi.EntitlementRef{Resource: g.id(), Slug: g.str()} }

func (g gen) resource() abi.Resource {
	r := abi.Resource{ID: g.id(), DisplayName: g.str(), ChildTypes: g.strs()}
	if g.r.IntN(2) == 0 {
		p := g.id()
		r.Parent = &p
	}
	if g.r.IntN(2) == 0 {
		r.Description = g.str()
	}
	switch g.r.IntN(3) {
	case 0:
		r.Profile = map[string]string{}
	case 1:
		r.Profile = map[string]string{}
		for range 1 + g.r.IntN(4) {
			r.Profile[g.str()] = g.str()
		}
	}
	if g.r.IntN(2) == 0 {
		r.User = &abi.UserTrait{Emails: g.strs()}
		if g.r.IntN(2) == 0 {
			r.User.Login = g.str()
		}
		if g.r.IntN(2) == 0 {
			r.User.Status = abi.UserStatus(g.str())
		}
	}
	return r
}

func (g gen) entitlement() abi.Entitlement {
	e := abi.Entitlement{Resource: g.id(), Slug: g.str(), DisplayName: g.str(), GrantableTo: g.strs()}
	if g.r.IntN(2) == 0 {
		e.Description = g.str()
	}
	return e
}

func (g gen) grant() abi.Grant {
	gr := abi.Grant{Entitlement: g.ref(), Principal: g.id()}
	switch g.r.IntN(3) {
	case 0:
		gr.ExpandFrom = []abi.EntitlementRef{}
	case 1:
		for range 1 + g.r.IntN(3) {
			gr.ExpandFrom = append(gr.ExpandFrom, g.ref())
		}
	}
	return gr
}

// list returns nil, an empty list or up to 5 items made by mk.
func list[T any](g gen, mk func() T) []T {
	switch g.r.IntN(5) {
	case 0:
		return nil
	case 1:
		return []T{}
	}
	out := make([]T, 1+g.r.IntN(5))
	for i := range out {
		out[i] = mk()
	}
	return out
}

func (g gen) next() string {
	if g.r.IntN(2) == 0 {
		return ""
	}
	return g.str()
}

func sameAsMarshal[T any](t *testing.T, res T) {
	t.Helper()
	want, err := json.Marshal(abi.Result[T]{OK: &res})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := encodeOK(&res)
	if !ok {
		t.Fatalf("encodeOK refused %T", res)
	}
	sameJSON(t, got, want, func() any { return new(abi.Result[T]) })
}

// sameJSON fails unless got and want decode to equal values of the type
// mk makes, and are the same bytes when want has no replaced invalid UTF-8
// (encoding/json writes U+FFFD as \ufffd, its jsonv2-backed version as the
// character itself: both decode alike).
func sameJSON(t *testing.T, got, want []byte, mk func() any) {
	t.Helper()
	a, b := mk(), mk()
	if err := json.Unmarshal(got, a); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("output decodes differently from json.Marshal's\n got: %s\nwant: %s", got, want)
	}
	replaced := bytes.ContainsRune(want, utf8.RuneError) || bytes.Contains(want, []byte(`\ufffd`))
	if !replaced && !bytes.Equal(got, want) {
		t.Fatalf("output differs from json.Marshal's\n got: %s\nwant: %s", got, want)
	}
}

func TestEncodeOKMatchesMarshal(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	for range 3000 {
		sameAsMarshal(t, abi.ResourcePage{Resources: list(g, g.resource), NextPageToken: g.next()})
		sameAsMarshal(t, abi.EntitlementPage{Entitlements: list(g, g.entitlement), NextPageToken: g.next()})
		sameAsMarshal(t, abi.GrantPage{Grants: list(g, g.grant), NextPageToken: g.next()})
	}
}

func TestAppendStringMatchesMarshal(t *testing.T) {
	check := func(s string) {
		want, _ := json.Marshal(s)
		sameJSON(t, appendString(nil, s), want, func() any { return new(string) })
	}
	for _, s := range tricky {
		check(s)
	}
	// Every single byte and every pair of bytes, which covers each ASCII
	// escape and the truncated and invalid UTF-8 sequences.
	for a := range 256 {
		check(string([]byte{byte(a)}))
		for b := range 256 {
			check(string([]byte{byte(a), byte(b)}))
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		sameJSON(t, appendString(nil, s), want, func() any { return new(string) })
	})
}

func TestEncodeOKLeavesOtherTypes(t *testing.T) {
	if _, ok := encodeOK(&abi.Metadata{}); ok {
		t.Fatal("encodeOK encoded Metadata, which it has no encoder for")
	}
}
