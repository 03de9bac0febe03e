package guest

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
)

func (g gen) call() abi.Call {
	c := abi.Call{SyncID: g.next()}
	switch g.r.IntN(3) {
	case 0:
		c.Config = map[string]string{}
	case 1:
		c.Config = map[string]string{g.str(): g.str(), "k": g.str()}
	}
	return c
}

func (g gen) requests() []any {
	var parent *abi.ResourceID
	if g.r.IntN(2) == 0 {
		id := g.id()
		parent = &id
	}
	return []any{
		&abi.ListResourcesRequest{Call: g.call(), ResourceType: g.str(), Parent: parent, PageToken: g.next()},
		&abi.ListEntitlementsRequest{Call: g.call(), Resource: g.resource(), PageToken: g.next()},
		&abi.ListGrantsRequest{Call: g.call(), Resource: g.resource(), PageToken: g.next()},
	}
}

// checkDecode fails if decodeFast accepts input but decodes it differently
// from json.Unmarshal (or accepts what json.Unmarshal refuses). It returns
// whether decodeFast accepted it.
func checkDecode(t *testing.T, input []byte, typ reflect.Type) bool {
	t.Helper()
	fast := reflect.New(typ).Interface()
	if !decodeFast(input, fast) {
		if !reflect.ValueOf(fast).Elem().IsZero() {
			t.Fatalf("decodeFast refused %s but changed its target to %+v", input, fast)
		}
		return false
	}
	slow := reflect.New(typ).Interface()
	if err := json.Unmarshal(input, slow); err != nil {
		t.Fatalf("decodeFast accepted %s, which json.Unmarshal refuses: %v", input, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decodeFast(%s)\n = %#v\nwant %#v", input, fast, slow)
	}
	return true
}

func TestDecodeFastMatchesUnmarshal(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(3, 4))}
	accepted := 0
	for range 3000 {
		for _, req := range g.requests() {
			in, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			typ := reflect.TypeOf(req).Elem()
			plain := !strings.Contains(string(in), `\`) && !strings.Contains(string(in), "\ufffd")
			if checkDecode(t, in, typ) {
				accepted++
			} else if plain {
				t.Fatalf("decodeFast refused the plain %s", in)
			}
			// Truncations and single-byte changes must never be accepted
			// differently from json.Unmarshal.
			checkDecode(t, in[:g.r.IntN(len(in))], typ)
			mut := []byte(string(in))
			const junk = `{}[],:"\ 0an`
			mut[g.r.IntN(len(mut))] = junk[g.r.IntN(len(junk))]
			checkDecode(t, mut, typ)
		}
	}
	if accepted == 0 {
		t.Fatal("decodeFast accepted nothing")
	}
}

func TestDecodeFastFallsBack(t *testing.T) {
	typ := reflect.TypeOf(abi.ListGrantsRequest{})
	for _, in := range []string{
		`{"syncId":"a","syncId":"b"}`,                 // duplicate key
		`{"SyncId":"a"}`,                              // other spelling
		`{"syncId":"a\u0062"}`,                        // escape
		`{"syncId":null}`,                             // null string
		`{"syncId":"a","extra":1}`,                    // unknown key
		`{"resource":{"id":{"type":"u","id":"1"}}} x`, // trailing garbage
		"{\"syncId\":\"\xff\"}",                       // invalid UTF-8
	} {
		if checkDecode(t, []byte(in), typ) {
			t.Errorf("decodeFast accepted %s", in)
		}
	}
	if !checkDecode(t, []byte(` { "syncId" : "a" , "resource" : { "user" : null , "childTypes" : [ ] } } `), typ) {
		t.Error("decodeFast refused whitespace")
	}
}

func FuzzDecodeFast(f *testing.F) {
	f.Add([]byte(`{"config":{"a":"b"},"syncId":"s","resource":{"id":{"type":"user","id":"u1"},"parent":{"type":"workspace","id":"w"},"displayName":"A","profile":{"email":"a@x"},"user":{"emails":["a@x"],"login":"a@x","status":"enabled"}},"pageToken":"t"}`))
	f.Add([]byte(`{"resourceType":"user","parent":null}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecode(t, in, reflect.TypeOf(abi.ListGrantsRequest{}))
		checkDecode(t, in, reflect.TypeOf(abi.ListResourcesRequest{}))
	})
}
