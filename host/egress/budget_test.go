package egress

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
)

// countingBody is a response body of size bytes ('x'), or endless if size
// is negative, that counts what was read of it.
type countingBody struct {
	mu         sync.Mutex
	size, read int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.size >= 0 {
		if b.read == b.size {
			return 0, io.EOF
		}
		p = p[:min(int64(len(p)), b.size-b.read)]
	}
	for i := range p {
		p[i] = 'x'
	}
	b.read += int64(len(p))
	return len(p), nil
}

func (b *countingBody) Close() error { return nil }

func (b *countingBody) bytesRead() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.read
}

// TestBatchBudgetBoundsTheBodiesRead: the bodies of requests sharing a
// budget are read within it; a response the rest of the budget cannot hold
// is refused having read at most one byte past it, or none if its length
// says so up front; a body that is not returned (here a 5xx retried)
// gives its bytes back.
func TestBatchBudgetBoundsTheBodiesRead(t *testing.T) {
	const budget = 1 << 20
	bodies := map[string][]*countingBody{
		"/a":        {{size: 600 << 10}},
		"/endless":  {{size: -1}},
		"/declared": {{size: 500 << 10}},
		"/retried":  {{size: 300 << 10}, {size: 300 << 10}},
	}
	env := newTestClient(t, "https://api.segment.test", nil)
	var mu sync.Mutex
	calls := map[string]int{}
	env.c.hc.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		n := calls[r.URL.Path]
		calls[r.URL.Path]++
		mu.Unlock()
		b := bodies[r.URL.Path][n]
		resp := &http.Response{StatusCode: http.StatusOK, Request: r, ContentLength: -1, Body: b}
		switch {
		case r.URL.Path == "/declared":
			resp.ContentLength = b.size
		case r.URL.Path == "/retried" && n == 0:
			resp.StatusCode = http.StatusServiceUnavailable
		}
		return resp, nil
	})
	ctx := WithBatchBudget(context.Background(), NewBatchBudget(budget))

	a := env.c.Do(ctx, get("/a"))
	wantStatus(t, a, 200)
	endless := bodies["/endless"][0]
	wantError(t, env.c.Do(ctx, get("/endless?email=a@b")), abi.CodeUnavailable, "GET /endless: the batch's responses exceed 1 MiB together")
	if got, most := endless.bytesRead(), int64(budget-len(a.Body)+1); got > most {
		t.Errorf("read %d bytes of a body past the budget, want at most the %d left and one", got, most)
	}
	declared := bodies["/declared"][0]
	wantError(t, env.c.Do(ctx, get("/declared")), abi.CodeUnavailable, "send this request in a smaller batch")
	if got := declared.bytesRead(); got != 0 {
		t.Errorf("read %d bytes of a body whose length is past the budget, want none", got)
	}
	// 600 KiB are held by /a: the 5xx's 300 KiB go back before the retry's.
	wantStatus(t, env.c.Do(ctx, get("/retried")), 200)
}
