package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/egress"
)

// barrierDoer answers no request before n are in its hands at once, so a
// batch that sent them one by one would never be answered.
type barrierDoer struct {
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func (d *barrierDoer) Do(ctx context.Context, req abi.HTTPRequest) abi.HTTPResponse {
	d.mu.Lock()
	if d.arrived++; d.arrived == d.n {
		close(d.all)
	}
	d.mu.Unlock()
	select {
	case <-d.all:
		return abi.HTTPResponse{Status: 200, Body: []byte(req.Path)}
	case <-ctx.Done():
		return abi.HTTPResponse{Error: abi.Errorf(abi.CodeUnavailable, "only %d of %d requests arrived together", d.arrived, d.n)}
	}
}

// TestDoBatchSendsTogetherAndAnswersInOrder: a batch's requests are all
// in flight at once, and response i answers request i.
func TestDoBatchSendsTogetherAndAnswersInOrder(t *testing.T) {
	const n = 50
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reqs := make([]abi.HTTPRequest, n)
	for i := range reqs {
		reqs[i] = abi.HTTPRequest{Method: "GET", Path: "/users/" + strings.Repeat("x", i)}
	}
	resps := DoBatch(ctx, &barrierDoer{n: n, all: make(chan struct{})}, reqs)
	for i, r := range resps {
		if r.Error != nil || string(r.Body) != reqs[i].Path {
			t.Fatalf("response %d = %q (error %v), want the body %q", i, r.Body, r.Error, reqs[i].Path)
		}
	}
}

type bigDoer struct{ size int }

func (d bigDoer) Do(context.Context, abi.HTTPRequest) abi.HTTPResponse {
	return abi.HTTPResponse{Status: 200, Body: bytes.Repeat([]byte{'x'}, d.size)}
}

// TestDoBatchCapsTheReply: the bodies of one reply stay within
// abi.MaxBatchReplyBytes; the responses past it become errors saying to
// send smaller batches.
func TestDoBatchCapsTheReply(t *testing.T) {
	reqs := make([]abi.HTTPRequest, 5)
	for i := range reqs {
		reqs[i] = abi.HTTPRequest{Method: "GET", Path: "/big?email=a@b"}
	}
	resps := DoBatch(context.Background(), bigDoer{size: 12 << 20}, reqs)
	total, refused := 0, 0
	for _, r := range resps {
		total += len(r.Body)
		if r.Error != nil {
			refused++
			if !strings.Contains(r.Error.Message, "smaller batch") || strings.Contains(r.Error.Message, "email") {
				t.Errorf("refusal %q: want advice and no query", r.Error.Message)
			}
		}
	}
	if total > abi.MaxBatchReplyBytes || refused != 3 {
		t.Fatalf("%d body bytes and %d refusals for 5 × 12 MiB, want ≤ %d bytes and 3 refusals", total, refused, abi.MaxBatchReplyBytes)
	}
}

// TestDoBatchStopsReadingAtTheReplyCap: through the egress client, a
// response the batch's reply cannot hold any more is refused without being
// read, instead of being read whole and dropped. Two 24 MiB bodies pass
// the 32 MiB cap together; one request at a time on the wire, the second
// is refused by its length, and the server never finishes sending it.
func TestDoBatchStopsReadingAtTheReplyCap(t *testing.T) {
	const size = 24 << 20
	chunk := bytes.Repeat([]byte{'x'}, 1<<20)
	var sentWhole atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for range size / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		sentWhole.Add(1)
	}))
	c, err := egress.New(egress.Config{BaseURL: srv.URL, MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	resps := DoBatch(context.Background(), c, []abi.HTTPRequest{{Method: "GET", Path: "/a"}, {Method: "GET", Path: "/b?email=a@b"}})
	srv.Close() // waits for both handlers
	var refused int
	for _, r := range resps {
		if r.Error != nil {
			refused++
			if !strings.Contains(r.Error.Message, "send this request in a smaller batch") || strings.Contains(r.Error.Message, "email") {
				t.Errorf("refusal %q: want advice and no query", r.Error.Message)
			}
		}
	}
	if refused != 1 || sentWhole.Load() != 1 {
		t.Fatalf("%d responses refused, %d sent whole; want one refused unread", refused, sentWhole.Load())
	}
}

// TestDecodeBatchStopsAtTheCap: a batch document of the largest size the
// host reads, packed with empty requests, is refused at the request past
// abi.MaxBatchRequests, having cost the host little heap: decoded whole it
// is 2.8 million requests, near 1 GB allocated.
func TestDecodeBatchStopsAtTheCap(t *testing.T) {
	n := (maxHTTPRequestBytes - len(`{"requests":[]}`) + 1) / len(`{},`)
	doc := []byte(`{"requests":[` + strings.Repeat(`{},`, n-1) + `{}]}`)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	reqs, refusal := decodeBatch(doc)
	runtime.ReadMemStats(&after)
	if refusal == nil || !strings.Contains(refusal.Message, "1 to 256 requests") {
		t.Fatalf("%d requests decoded (refusal %v), want the batch refused for its size", len(reqs), refusal)
	}
	const maxCost = 1 << 20
	cost := after.TotalAlloc - before.TotalAlloc
	t.Logf("refusing a batch of %d requests allocated %d KiB", n, cost>>10)
	if cost > maxCost {
		t.Errorf("refusing a batch of %d requests allocated %.1f MiB, want at most %d MiB", n, float64(cost)/(1<<20), maxCost>>20)
	}
}

// TestDecodeBatchAgreesWithUnmarshal: decodeBatch reads a batch as
// json.Unmarshal would, refusing what it refuses.
func TestDecodeBatchAgreesWithUnmarshal(t *testing.T) {
	full := `{"requests":[` + strings.Repeat(`{"method":"GET","path":"/"},`, abi.MaxBatchRequests-1) + `{"method":"GET","path":"/"}]}`
	for _, doc := range []string{
		`{"requests":[{"method":"GET","path":"/users?x=1","headers":{"A":["b"]},"body":"e30="}]}`,
		` {"other":{"a":[1,{"b":null}]},"Requests":[null,{"method":"POST"}],"x":"y"} `,
		`{"requests":[{"path":"/a"}],"requests":[{"path":"/b"},{"path":"/c"}]}`,
		full,
		// Refused by both:
		``, `null`, `{}`, `{"requests":null}`, `{"requests":[]}`, `[]`, `"x"`, `{"requests":{}}`,
		`{"requests":[1]}`, `{"requests":[{"method":1}]}`, `{"requests":[{}]} {}`, `{"requests":[{}]`,
		`{"requests":[{}],}`, `{"requests":[{} {}]}`, `{"a" 1}`, full[:len(full)-2] + `,{}]}`,
	} {
		var want abi.HTTPBatchRequest
		ok := json.Unmarshal([]byte(doc), &want) == nil && len(want.Requests) > 0 && len(want.Requests) <= abi.MaxBatchRequests
		got, refusal := decodeBatch([]byte(doc))
		switch {
		case ok && (refusal != nil || !reflect.DeepEqual(got, want.Requests)):
			t.Errorf("decodeBatch(%.80q) = %+v (refusal %v), want %+v", doc, got, refusal, want.Requests)
		case !ok && refusal == nil:
			t.Errorf("decodeBatch(%.80q) = %+v, want a refusal", doc, got)
		case refusal != nil && refusal.Code != abi.CodeInvalidArgument:
			t.Errorf("decodeBatch(%.80q) refused with %v, want invalid_argument", doc, refusal)
		}
	}
}
