package sandbox_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/sandbox"
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
	resps := sandbox.DoBatch(ctx, &barrierDoer{n: n, all: make(chan struct{})}, reqs)
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
	resps := sandbox.DoBatch(context.Background(), bigDoer{size: 12 << 20}, reqs)
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
