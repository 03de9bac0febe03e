package egress

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/abi"
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
	if held := env.c.gate.busyNow(); held != limit {
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
	if held := env.c.gate.busyNow(); held != 0 {
		t.Errorf("%d slots still held after every request completed", held)
	}
}

// fixed is a clock stopped at t.
func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

// busyNow is the number of slots held.
func (g *gate) busyNow() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.busy
}

// TestGateHalvesOnTooManyRequestsAndGrowsBack: the bound starts at max,
// halves on each 429 and regains one after as many answers in a row as
// it allows; no bound ever falls below one or rises above max.
func TestGateHalvesOnTooManyRequestsAndGrowsBack(t *testing.T) {
	now := time.Now()
	g := newGate(8, time.Minute)
	for range 8 {
		if _, ok, err := g.acquire(context.Background(), reads, fixed(now)); !ok || err != nil {
			t.Fatalf("acquire below the bound: ok %v, err %v", ok, err)
		}
	}
	full, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := g.acquire(full, reads, fixed(now)); err == nil {
		t.Fatal("a ninth attempt got a slot with a bound of 8")
	}
	g.release(reads, http.StatusTooManyRequests, nil, now, time.Time{})
	if g.limit != 4 {
		t.Fatalf("limit %d after a 429 from 8, want 4", g.limit)
	}
	for _, want := range []int{2, 1, 1} {
		g.release(reads, http.StatusTooManyRequests, nil, now, time.Time{})
		if g.limit != want {
			t.Fatalf("limit %d after another 429, want %d", g.limit, want)
		}
	}
	// Four slots are still held; one answer in a row grows a bound of 1.
	g.release(reads, http.StatusOK, nil, now, time.Time{})
	if g.limit != 2 {
		t.Fatalf("limit %d after one answer at 1, want 2", g.limit)
	}
	g.release(reads, http.StatusOK, nil, now, time.Time{})
	g.release(reads, 0, nil, now, time.Time{}) // no answer: teaches nothing
	if g.limit != 2 {
		t.Fatalf("limit %d after one answer and a transport error at 2, want 2", g.limit)
	}
	g.release(reads, http.StatusOK, nil, now, time.Time{})
	if g.limit != 3 || g.busyNow() != 0 {
		t.Fatalf("limit %d, busy %d after two answers at 2, want 3 and 0", g.limit, g.busyNow())
	}
	for range 100 {
		if _, ok, _ := g.acquire(context.Background(), reads, fixed(now)); !ok {
			break
		}
		g.release(reads, http.StatusOK, nil, now, time.Time{})
	}
	if g.limit != 8 {
		t.Fatalf("limit %d after 100 answers, want max 8", g.limit)
	}
}

// rateHeaders are the API's window headers as of date.
func rateHeaders(date time.Time, remaining int, resetIn time.Duration) http.Header {
	h := http.Header{}
	h.Set("Date", date.UTC().Format(http.TimeFormat))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", date.Add(resetIn).UTC().Format(http.TimeFormat))
	return h
}

// TestGateWaitsOutAUsedUpWindow: once the window's requests are spent
// (the API's count less what was sent since), attempts wait until its
// reset, measured on the server's clock: a server an hour behind still
// means "in 10 seconds". A new window is open again.
func TestGateWaitsOutAUsedUpWindow(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	g := newGate(8, time.Minute)
	if _, ok, _ := g.acquire(context.Background(), reads, fixed(now)); !ok {
		t.Fatal("first attempt held")
	}
	g.release(reads, http.StatusOK, rateHeaders(now.Add(-time.Hour), 2, 10*time.Second), now, time.Time{})
	for i := range 2 {
		if _, ok, _ := g.acquire(context.Background(), reads, fixed(now)); !ok {
			t.Fatalf("attempt %d of the 2 remaining held", i+1)
		}
	}
	hold, ok, err := g.acquire(context.Background(), reads, fixed(now.Add(time.Second)))
	if ok || err != nil {
		t.Fatalf("third attempt in a window with 2 left: ok %v, err %v; want a hold", ok, err)
	}
	if want := now.Add(10 * time.Second); !hold.until.Equal(want) || !strings.Contains(hold.reason, "X-RateLimit-Remaining") {
		t.Fatalf("hold until %v (%q), want %v naming X-RateLimit-Remaining", hold.until, hold.reason, want)
	}
	// An answer from the same window reporting more (it was counted
	// earlier) does not reopen it.
	g.release(reads, http.StatusOK, rateHeaders(now.Add(-time.Hour), 1, 10*time.Second), now, time.Time{})
	if _, ok, _ := g.acquire(context.Background(), reads, fixed(now.Add(2*time.Second))); ok {
		t.Fatal("a stale count reopened a used-up window")
	}
	if _, ok, _ := g.acquire(context.Background(), reads, fixed(now.Add(10*time.Second))); !ok {
		t.Fatal("attempt held after the window's reset")
	}
}

// TestGateJudgesHoldsByTheClockAfterWaiting: an attempt that waited for a
// slot judges the API's holds by the time it is woken, not by the time it
// began to wait. Here the answer that frees the slot says its window is
// spent, but the answer came slowly and that window is over by then.
func TestGateJudgesHoldsByTheClockAfterWaiting(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	var mu sync.Mutex
	now := start
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	g := newGate(1, time.Minute)
	if _, ok, _ := g.acquire(context.Background(), reads, clock); !ok {
		t.Fatal("first attempt held")
	}
	// The gate reads the clock under its lock, so once the waiter has read
	// it, the release below cannot come before the waiter waits.
	read := make(chan struct{})
	var once sync.Once
	got := make(chan bool)
	go func() {
		_, ok, _ := g.acquire(context.Background(), reads, func() time.Time {
			defer once.Do(func() { close(read) })
			return clock()
		})
		got <- ok
	}()
	<-read
	mu.Lock()
	now = start.Add(30 * time.Second)
	mu.Unlock()
	// The answer's headers left at start+1s: its window ended at start+11s.
	g.release(reads, http.StatusOK, rateHeaders(start.Add(time.Second), 0, 10*time.Second), start.Add(time.Second), time.Time{})
	if !<-got {
		t.Fatal("the waiter was held for a window that ended before it was woken")
	}
}

// TestGateIgnoresWindowsPastItsLongestWait: a reset further away than the
// longest wait the client makes is not waited for here; the 429 path
// decides then (it hands such waits back to the guest).
func TestGateIgnoresWindowsPastItsLongestWait(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	g := newGate(2, time.Minute)
	g.acquire(context.Background(), reads, fixed(now))
	g.release(reads, http.StatusOK, rateHeaders(now, 0, 2*time.Hour), now, time.Time{})
	if _, ok, _ := g.acquire(context.Background(), reads, fixed(now)); !ok {
		t.Fatal("held for a window two hours long")
	}
}

// TestGatePauseHoldsEveryAttempt: a 429's wait applies to every request
// of the tenant, not only to the one that got it: an attempt waiting for
// the slot the 429 frees is held, never slipping through before the pause
// is set.
func TestGatePauseHoldsEveryAttempt(t *testing.T) {
	now := time.Now()
	g := newGate(2, time.Minute)
	for range 2 {
		if _, ok, _ := g.acquire(context.Background(), reads, fixed(now)); !ok {
			t.Fatal("attempt held below the bound")
		}
	}
	read := make(chan struct{})
	var once sync.Once
	got := make(chan holdUntil)
	go func() {
		hold, _, _ := g.acquire(context.Background(), reads, func() time.Time {
			defer once.Do(func() { close(read) })
			return now
		})
		got <- hold
	}()
	<-read // the gate reads the clock under its lock: the waiter waits from here
	g.release(reads, http.StatusTooManyRequests, nil, now, now.Add(5*time.Second))
	if hold := <-got; !hold.until.Equal(now.Add(5*time.Second)) || !strings.Contains(hold.reason, "429") || !hold.after429 {
		t.Fatalf("woken by the 429's release: hold %v %q; want held until +5s naming the 429", hold.until, hold.reason)
	}
	g.release(reads, http.StatusTooManyRequests, nil, now, now.Add(time.Second)) // an earlier end does not shorten it
	if hold, ok, _ := g.acquire(context.Background(), reads, fixed(now)); ok || !hold.until.Equal(now.Add(5*time.Second)) {
		t.Fatalf("after a shorter 429: ok %v, hold until %v; want held until +5s", ok, hold.until)
	}
	if _, ok, _ := g.acquire(context.Background(), reads, fixed(now.Add(5*time.Second))); !ok {
		t.Fatal("held after the pause ended")
	}
}

// TestGateFollowsAWindowAsLongAsItsLongestWait: Segment's windows last a
// minute, the client's longest wait is a minute, and the one-second dates
// make a fresh window read a little over a minute: it is still followed.
func TestGateFollowsAWindowAsLongAsItsLongestWait(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	g := newGate(2, time.Minute)
	g.acquire(context.Background(), reads, fixed(now))
	g.release(reads, http.StatusOK, rateHeaders(now, 0, time.Minute+time.Second), now, time.Time{})
	if _, ok, _ := g.acquire(context.Background(), reads, fixed(now)); ok {
		t.Fatal("a spent window of 61 s was not waited for")
	}
}

// roundTripFunc lets a test stand in for the transport.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestPanicDuringAttemptFreesItsSlot: Do recovers a panic in the middle of
// an attempt, and the slot the attempt held is free again; a leaked slot
// would shrink the tenant's bound for good, and with a bound of one stop
// its requests altogether.
func TestPanicDuringAttemptFreesItsSlot(t *testing.T) {
	env := newTestClient(t, "https://api.segment.test", func(c *Config) { c.MaxInFlight = 1 })
	env.c.hc.Transport = roundTripFunc(func(*http.Request) (*http.Response, error) { panic("transport bug") })
	wantError(t, env.c.Do(context.Background(), get("/users")), abi.CodeUnknown, "internal error")
	if held := env.c.gate.busyNow(); held != 0 {
		t.Fatalf("%d slots still held after a panic in an attempt", held)
	}
}

// TestReadsAndWritesHaveTheirOwnWindows: the API counts writes in a window
// of their own (Segment: 60 IAM writes a minute), so a spent write window
// holds writes only, and reads go on in theirs.
func TestReadsAndWritesHaveTheirOwnWindows(t *testing.T) {
	var env testEnv
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		h := rateHeaders(env.clock.Now(), 100, 10*time.Second)
		if r.Method != http.MethodGet {
			h = rateHeaders(env.clock.Now(), 0, 50*time.Second)
		}
		for k, v := range h {
			w.Header()[k] = v
		}
	})
	env = newTestClient(t, srv.URL, nil)
	for _, m := range []string{"GET", "POST", "GET"} {
		wantStatus(t, env.c.Do(context.Background(), abi.HTTPRequest{Method: m, Path: "/users"}), 200)
	}
	if got := env.clock.Sleeps(); len(got) != 0 {
		t.Fatalf("a read waited %v after a write spent the write window", got)
	}
	wantStatus(t, env.c.Do(context.Background(), abi.HTTPRequest{Method: "DELETE", Path: "/users"}), 200)
	if got := env.clock.Sleeps(); len(got) != 1 || got[0] != 50*time.Second {
		t.Fatalf("a write after the write window was spent waited %v, want [50s]", got)
	}
}

// TestWindowResetCountsFromTheHeaders: the reset is converted to our clock
// from when the answer's headers arrived, which is when the API stated it,
// not from when its body had been read.
func TestWindowResetCountsFromTheHeaders(t *testing.T) {
	env := newTestClient(t, "https://api.segment.test", nil)
	env.c.hc.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{
			StatusCode: http.StatusOK, Request: r, ContentLength: -1,
			Header: rateHeaders(env.clock.Now(), 0, 10*time.Second),
			Body:   &slowBody{clock: env.clock, took: 8 * time.Second, data: []byte("{}")},
		}, nil
	})
	wantStatus(t, env.c.Do(context.Background(), get("/users")), 200)
	wantStatus(t, env.c.Do(context.Background(), get("/users")), 200)
	if got := env.clock.Sleeps(); len(got) != 1 || got[0] != 2*time.Second {
		t.Fatalf("waits %v after a spent window of 10 s whose body took 8 s, want [2s]", got)
	}
}

// slowBody is a response body whose reading takes took on the fake clock.
type slowBody struct {
	clock *fakeClock
	took  time.Duration
	data  []byte
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.took > 0 {
		b.clock.advance(b.took)
		b.took = 0
	}
	if len(b.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

func (b *slowBody) Close() error { return nil }
