package egress

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestMaxInFlightBoundsAttempts: with MaxInFlight 2, six concurrent
// requests reach the server at most two at a time, each attempt holding
// one of the two slots, and all complete.
func TestMaxInFlightBoundsAttempts(t *testing.T) {
	const limit, total = 2, 6
	var mu sync.Mutex
	cur, peak := 0, 0
	entered := make(chan struct{}, total)
	proceed := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cur++
		peak = max(peak, cur)
		mu.Unlock()
		entered <- struct{}{}
		<-proceed
		mu.Lock()
		cur--
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	env := newTestClient(t, srv.URL, func(c *Config) { c.MaxInFlight = limit })

	var wg sync.WaitGroup
	statuses := make(chan int, total)
	for range total {
		wg.Go(func() { statuses <- env.c.Do(context.Background(), get("/x")).Status })
	}
	// The server holds each request until the test lets one go.
	for range limit {
		<-entered
	}
	if held := len(env.c.inFlight); held != limit {
		t.Errorf("%d slots held while %d requests are at the server, want %d", held, limit, limit)
	}
	for i := range total {
		proceed <- struct{}{}
		if i+limit < total {
			<-entered
		}
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusOK {
			t.Errorf("status %d, want 200", s)
		}
	}
	if peak > limit {
		t.Errorf("%d requests were in flight at once, want at most %d", peak, limit)
	}
	if held := len(env.c.inFlight); held != 0 {
		t.Errorf("%d slots still held after every request completed", held)
	}
}
