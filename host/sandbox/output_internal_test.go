package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
)

// tokens counts the values of a valid JSON document the way
// countJSONValues means to: every token encoding/json's Decoder returns,
// except closing delimiters.
func tokens(t testing.TB, doc []byte) int {
	d := json.NewDecoder(bytes.NewReader(doc))
	n := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		if tok == json.Delim('}') || tok == json.Delim(']') {
			continue
		}
		n++
	}
}

var countSeeds = []string{
	`{}`, `[]`, `0`, `"x"`, `true`, `null`, `-1.5e+10`,
	`{"ok":{"resources":[{},{},{}]}}`,
	`{"a":"b","c":[1,2,{"d":null}],"e":true}`,
	`{"s":"with \"quotes\", [brackets] {braces} : and , commas \\"}`,
	`[ 1 , 22 , 333 ,"4" , [ ] , { } ]`,
	"{\n\t\"k\" : \"v\"\r\n}",
	`{"ok":{"resources":[{"id":{"type":"user","id":"u1"},"displayName":"Ada","profile":{"email":"ada@example.test"}}],"nextPageToken":"MA=="}}`,
}

func TestCountJSONValues(t *testing.T) {
	for _, doc := range countSeeds {
		if got, want := mustCount(doc, 1<<30), tokens(t, []byte(doc)); got != want {
			t.Errorf("countJSONValues(%s) = %d, want %d", doc, got, want)
		}
	}
	if n, over := countJSONValues([]byte(`[1,2,3,4,5]`), 3); !over || n != 4 {
		t.Errorf("limit 3 on 6 values: n=%d over=%v, want to stop at 4", n, over)
	}
	if _, over := countJSONValues([]byte(`[1,2]`), 3); over {
		t.Error("3 values are within a limit of 3")
	}
}

func mustCount(doc string, limit int) int {
	n, _ := countJSONValues([]byte(doc), limit)
	return n
}

// FuzzCountJSONValues: on every valid document the count is the decoder's.
func FuzzCountJSONValues(f *testing.F) {
	for _, s := range countSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		if !json.Valid([]byte(doc)) {
			return
		}
		if got, want := mustCount(doc, 1<<30), tokens(t, []byte(doc)); got != want {
			t.Errorf("countJSONValues(%q) = %d, want %d", doc, got, want)
		}
	})
}

// maxDecodeHeap is the documented bound on the heap one call's output may
// cost the host to decode into abi documents under the default limits.
const maxDecodeHeap = 64 << 20

// TestWorstOutputDecodeCost decodes the most expensive documents we know
// of that pass both default output limits into abi.Result[abi.ResourcePage]
// and measures the heap that costs.
func TestWorstOutputDecodeCost(t *testing.T) {
	const maxBytes, maxValues = DefaultMaxOutputBytes, DefaultMaxOutputValues
	// head holds 5 values: {, "ok", {, "resources", [.
	const head, tail, headValues = `{"ok":{"resources":[`, `]}}`, 5
	// list fills the page with items, each worth per values, leaving room
	// for pad more bytes and padValues more values.
	list := func(item string, per int, pad, padValues int) []byte {
		var b bytes.Buffer
		b.WriteString(head)
		for i := 0; headValues+(i+1)*per+padValues <= maxValues && b.Len()+len(item)+1+len(tail)+pad <= maxBytes; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.ReplaceAll(item, "#", fmt.Sprint(i)))
		}
		b.WriteString(tail)
		return b.Bytes()
	}
	// long is a page of empty resources plus one resource whose description
	// fills the remaining bytes, with escapes, so the decoder unquotes it.
	long := func() []byte {
		doc := list(`{}`, 1, 64, 3)
		doc = doc[:len(doc)-len(tail)]
		rest := maxBytes - len(doc) - len(tail) - len(`,{"description":""}`) - 2
		s := strings.Repeat(`\"`, rest/2)
		doc = append(doc, `,{"description":"`+s+`"}`...)
		return append(doc, tail...)
	}
	shapes := []struct {
		name string
		doc  []byte
	}{
		{"empty resources", list(`{}`, 1, 0, 0)},
		{"resources with parent and user", list(`{"parent":{},"user":{}}`, 5, 0, 0)},
		{"resources with emails", list(`{"user":{"emails":["","","","","","","",""]}}`, 13, 0, 0)},
		{"one profile of distinct keys", func() []byte {
			var b bytes.Buffer
			b.WriteString(head + `{"profile":{`)
			for i := 0; headValues+3+2*(i+1) <= maxValues; i++ {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `"k%d":""`, i)
			}
			b.WriteString(`}}` + tail)
			return b.Bytes()
		}()},
		{"distinct ids", list(`{"id":{"type":"t","id":"#"}}`, 7, 0, 0)},
		{"empty resources and one long escaped string", long()},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			n, over := countJSONValues(sh.doc, maxValues)
			if over || len(sh.doc) > maxBytes {
				t.Fatalf("the document (%d bytes, %d values) is over the limits", len(sh.doc), n)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var res abi.Result[abi.ResourcePage]
			if err := json.Unmarshal(sh.doc, &res); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(res)
			cost := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes, %d values, %d resources: decoding allocated %.1f MiB", len(sh.doc), n, len(res.OK.Resources), float64(cost)/(1<<20))
			if cost > maxDecodeHeap {
				t.Errorf("decoding allocated %d MiB, over the documented %d MiB", cost>>20, maxDecodeHeap>>20)
			}
		})
	}
}

func BenchmarkCountJSONValues(b *testing.B) {
	doc := []byte(`{"ok":{"resources":[` + strings.Repeat(`{"id":{"type":"user","id":"u1"},"displayName":"Ada \"L\"","profile":{"email":"ada@example.test"}},`, 70000) + `{}]}}`)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		countJSONValues(doc, 1<<30)
	}
}
