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
	"github.com/baton-runner/baton-runner/host/secret"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
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
		if _, _, ok, err := g.acquire(context.Background(), reads, fixed(now)); !ok || err != nil {
			t.Fatalf("acquire below the bound: ok %v, err %v", ok, err)
		}
	}
	full, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := g.acquire(full, reads, fixed(now)); err == nil {
		t.Fatal("a ninth attempt got a slot with a bound of 8")
	}
	g.release(ticket{class: reads}, answer{status: http.StatusTooManyRequests, at: now})
	if g.limit != 4 {
		t.Fatalf("limit %d after a 429 from 8, want 4", g.limit)
	}
	for _, want := range []int{2, 1, 1} {
		g.release(ticket{class: reads}, answer{status: http.StatusTooManyRequests, at: now})
		if g.limit != want {
			t.Fatalf("limit %d after another 429, want %d", g.limit, want)
		}
	}
	// Four slots are still held; one answer in a row grows a bound of 1.
	g.release(ticket{class: reads}, answer{status: http.StatusOK, at: now})
	if g.limit != 2 {
		t.Fatalf("limit %d after one answer at 1, want 2", g.limit)
	}
	g.release(ticket{class: reads}, answer{status: http.StatusOK, at: now})
	g.release(ticket{class: reads}, answer{}) // no answer: teaches nothing
	if g.limit != 2 {
		t.Fatalf("limit %d after one answer and a transport error at 2, want 2", g.limit)
	}
	g.release(ticket{class: reads}, answer{status: http.StatusOK, at: now})
	if g.limit != 3 || g.busyNow() != 0 {
		t.Fatalf("limit %d, busy %d after two answers at 2, want 3 and 0", g.limit, g.busyNow())
	}
	for range 100 {
		if _, _, ok, _ := g.acquire(context.Background(), reads, fixed(now)); !ok {
			break
		}
		g.release(ticket{class: reads}, answer{status: http.StatusOK, at: now})
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
// means "in 30 seconds". A new window is open again. (Windows this long
// are not probed: TestGateProbesAShortWindowOnce.)
func TestGateWaitsOutAUsedUpWindow(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	g := newGate(8, time.Minute)
	if _, _, ok, _ := g.acquire(context.Background(), reads, fixed(now)); !ok {
		t.Fatal("first attempt held")
	}
	g.release(ticket{class: reads}, answer{status: http.StatusOK, header: rateHeaders(now.Add(-time.Hour), 2, 30*time.Second), at: now})
	for i := range 2 {
		if _, _, ok, _ := g.acquire(context.Background(), reads, fixed(now)); !ok {
			t.Fatalf("attempt %d of the 2 remaining held", i+1)
		}
	}
	_, hold, ok, err := g.acquire(context.Background(), reads, fixed(now.Add(time.Second)))
	if ok || err != nil {
		t.Fatalf("third attempt in a window with 2 left: ok %v, err %v; want a hold", ok, err)
	}
	if want := now.Add(30 * time.Second); !hold.until.Equal(want) || !strings.Contains(hold.reason, "X-RateLimit-Remaining") {
		t.Fatalf("hold until %v (%q), want %v naming X-RateLimit-Remaining", hold.until, hold.reason, want)
	}
	// An answer from the same window reporting more (it was counted
	// earlier) does not reopen it.
	g.release(ticket{class: reads}, answer{status: http.StatusOK, header: rateHeaders(now.Add(-time.Hour), 1, 30*time.Second), at: now})
	if _, _, ok, _ := g.acquire(context.Background(), reads, fixed(now.Add(2*time.Second))); ok {
		t.Fatal("a stale count reopened a used-up window")
	}
	if _, _, ok, _ := g.acquire(context.Background(), reads, fixed(now.Add(30*time.Second))); !ok {
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
	if _, _, ok, _ := g.acquire(context.Background(), reads, clock); !ok {
		t.Fatal("first attempt held")
	}
	// The gate reads the clock under its lock, so once the waiter has read
	// it, the release below cannot come before the waiter waits.
	read := make(chan struct{})
	var once sync.Once
	got := make(chan bool)
	go func() {
		_, _, ok, _ := g.acquire(context.Background(), reads, func() time.Time {
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
	g.release(ticket{class: reads}, answer{status: http.StatusOK, header: rateHeaders(start.Add(time.Second), 0, 10*time.Second), at: start.Add(time.Second)})
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
	g.release(ticket{class: reads}, answer{status: http.StatusOK, header: rateHeaders(now, 0, 2*time.Hour), at: now})
	if _, _, ok, _ := g.acquire(context.Background(), reads, fixed(now)); !ok {
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
		if _, _, ok, _ := g.acquire(context.Background(), reads, fixed(now)); !ok {
			t.Fatal("attempt held below the bound")
		}
	}
	read := make(chan struct{})
	var once sync.Once
	got := make(chan holdUntil)
	go func() {
		_, hold, _, _ := g.acquire(context.Background(), reads, func() time.Time {
			defer once.Do(func() { close(read) })
			return now
		})
		got <- hold
	}()
	<-read // the gate reads the clock under its lock: the waiter waits from here
	g.release(ticket{class: reads}, answer{status: http.StatusTooManyRequests, at: now, pauseUntil: now.Add(5 * time.Second)})
	if hold := <-got; !hold.until.Equal(now.Add(5*time.Second)) || !strings.Contains(hold.reason, "429") || !hold.after429 {
		t.Fatalf("woken by the 429's release: hold %v %q; want held until +5s naming the 429", hold.until, hold.reason)
	}
	g.release(ticket{class: reads}, answer{status: http.StatusTooManyRequests, at: now, pauseUntil: now.Add(time.Second)}) // an earlier end does not shorten it
	if _, hold, ok, _ := g.acquire(context.Background(), reads, fixed(now)); ok || !hold.until.Equal(now.Add(5*time.Second)) {
		t.Fatalf("after a shorter 429: ok %v, hold until %v; want held until +5s", ok, hold.until)
	}
	if _, _, ok, _ := g.acquire(context.Background(), reads, fixed(now.Add(5*time.Second))); !ok {
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
	g.release(ticket{class: reads}, answer{status: http.StatusOK, header: rateHeaders(now, 0, time.Minute+time.Second), at: now})
	if _, _, ok, _ := g.acquire(context.Background(), reads, fixed(now)); ok {
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
			Header: rateHeaders(env.clock.Now(), 0, 30*time.Second),
			Body:   &slowBody{clock: env.clock, took: 8 * time.Second, data: []byte("{}")},
		}, nil
	})
	wantStatus(t, env.c.Do(context.Background(), get("/users")), 200)
	wantStatus(t, env.c.Do(context.Background(), get("/users")), 200)
	if got := env.clock.Sleeps(); len(got) != 1 || got[0] != 22*time.Second {
		t.Fatalf("waits %v after a spent window of 30 s whose body took 8 s, want [22s]", got)
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

// windowedSim serves the simulator with read windows of limit requests
// per window on the test client's clock, and a client of it with
// max_in_flight 8.
func windowedSim(t *testing.T, limit int, window time.Duration) (testEnv, *segmentsim.Server) {
	t.Helper()
	var env testEnv
	ws := segmentsim.Generate(segmentsim.DefaultConfig(10))
	sim := segmentsim.NewServer(ws, segmentsim.Options{
		ReadLimitPerMinute: limit, RateWindow: window,
		Now: func() time.Time { return env.clock.Now() },
	})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	env = newTestClient(t, srv.URL, func(c *Config) {
		c.Token = secret.New(ws.Token)
		c.MaxInFlight = 8
	})
	// Windows out of step with the dates' whole seconds, as they are
	// unless by chance.
	env.clock.advance(300 * time.Millisecond)
	return env, sim
}

// tooMany counts the simulator's 429 answers.
func tooMany(sim *segmentsim.Server) int {
	n := 0
	for _, r := range sim.Requests() {
		if r.Status == http.StatusTooManyRequests {
			n++
		}
	}
	return n
}

// TestPerSecondWindowsAtTheirRate: under one-second windows of 20 reads,
// 400 requests take at most 1.15 × the 20 windows they need on the
// client's clock, with at most one 429. The dates have one-second
// resolution, so a window's end read from X-RateLimit-Reset and Date is up
// to two seconds late, which would double the time; a 429's msBeforeNext
// gives it to the millisecond.
func TestPerSecondWindowsAtTheirRate(t *testing.T) {
	const limit, requests = 20, 400
	env, sim := windowedSim(t, limit, time.Second)
	start := env.clock.Now()
	for range requests {
		wantStatus(t, env.c.Do(context.Background(), get("/")), http.StatusOK)
	}
	took, floor := env.clock.Now().Sub(start), requests/limit*time.Second
	if took > floor*115/100 {
		t.Errorf("%d requests took %v under windows of %d a second, want at most 1.15 × %v", requests, took, limit, floor)
	}
	if n := tooMany(sim); n > 1 {
		t.Errorf("%d answers were 429, want at most the one the window's end is learned from", n)
	}
}

// TestMinuteWindowsWithoutTooManyRequests: Segment's windows last a
// minute, where the dates' second is at most 2 s in 60: the client waits
// for X-RateLimit-Reset and never runs into a 429 to learn more.
func TestMinuteWindowsWithoutTooManyRequests(t *testing.T) {
	const limit, requests = 10, 30
	env, sim := windowedSim(t, limit, time.Minute)
	start := env.clock.Now()
	for range requests {
		wantStatus(t, env.c.Do(context.Background(), get("/")), http.StatusOK)
	}
	if took, most := env.clock.Now().Sub(start), 2*(time.Minute+2*time.Second); took > most {
		t.Errorf("%d requests took %v under windows of %d a minute, want at most %v", requests, took, limit, most)
	}
	if n := tooMany(sim); n != 0 {
		t.Errorf("%d answers were 429, want none", n)
	}
}

// simHeaders are the window headers segmentsim and Segment send as of
// now for a window that ends at end: Date truncated to the second, the
// reset rounded up to it.
func simHeaders(now time.Time, consumed, remaining int, end time.Time) http.Header {
	h := http.Header{}
	h.Set("Date", now.UTC().Format(http.TimeFormat))
	h.Set("X-RateLimit-Consumed", strconv.Itoa(consumed))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", end.Add(time.Second-1).Truncate(time.Second).UTC().Format(http.TimeFormat))
	return h
}

// waits says whether an attempt would wait for a slot or an answer, as
// opposed to going or being told to hold: with a done context, that wait
// returns its error at once.
func waits(g *gate, now time.Time) bool {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, _, err := g.acquire(done, reads, fixed(now))
	return err != nil
}

// TestGateLearnsAShortWindowsEndFromOne429: the dates put the end of a
// one-second window up to two seconds late. Once it is used up and the
// attempts counted in it are answered (a probe sent earlier could reach
// the API before one of them, which would get a 429 too), one attempt,
// the probe, goes into it while the others wait for its answer;
// its 429's msBeforeNext holds them until the end to the millisecond,
// without halving the bound (the 429 was asked for). From when the
// window's first request was sent, the gate knows windows last a second,
// so the next window's end follows from the answer to its first request:
// no second probe, not even while that answer is still on its way.
func TestGateLearnsAShortWindowsEndFromOne429(t *testing.T) {
	start := time.Date(2025, 3, 4, 5, 6, 7, 300e6, time.UTC)
	end := start.Add(time.Second)
	g := newGate(8, time.Minute)
	first, _, _, _ := g.acquire(context.Background(), reads, fixed(start))
	g.release(first, answer{status: http.StatusOK, header: simHeaders(start, 1, 1, end), at: start})
	second, _, _, _ := g.acquire(context.Background(), reads, fixed(start))
	if !waits(g, start) {
		t.Fatal("an attempt went into the spent window before the last one counted in it was answered")
	}
	g.release(second, answer{status: http.StatusOK, header: simHeaders(start, 2, 0, end), at: start})

	now := start.Add(100 * time.Millisecond)
	p, _, ok, _ := g.acquire(context.Background(), reads, fixed(now))
	if !ok || !p.probe {
		t.Fatalf("first attempt into the spent window: ok %v, probe %v; want the probe", ok, p.probe)
	}
	if !waits(g, now) {
		t.Fatal("a second attempt did not wait for the probe's answer")
	}
	g.release(p, answer{status: http.StatusTooManyRequests, at: now, pauseUntil: end, exact: true})
	if _, hold, ok, _ := g.acquire(context.Background(), reads, fixed(now)); ok || !hold.until.Equal(end) {
		t.Fatalf("after the probe's 429: ok %v, hold until %v; want held until %v", ok, hold.until, end)
	}
	if g.limit != 8 {
		t.Errorf("the probe's 429 changed the bound to %d, want 8", g.limit)
	}

	var next [2]ticket
	for i := range next {
		var ok bool
		if next[i], _, ok, _ = g.acquire(context.Background(), reads, fixed(end)); !ok || next[i].probe {
			t.Fatalf("attempt %d at the window's end: ok %v, probe %v; want an ordinary attempt", i+1, ok, next[i].probe)
		}
	}
	answered := end.Add(5 * time.Millisecond)
	g.release(next[1], answer{status: http.StatusOK, header: simHeaders(answered, 2, 0, end.Add(time.Second)), at: answered})
	if !waits(g, answered) {
		t.Fatal("with the answer to the window's first request on its way, a third attempt did not wait for it")
	}
	g.release(next[0], answer{status: http.StatusOK, header: simHeaders(answered, 1, 1, end.Add(time.Second)), at: answered})
	// The API opened the window when the attempt reached it, no later than
	// its answer: a second after that, not at the reset's whole second.
	_, hold, ok, _ := g.acquire(context.Background(), reads, fixed(answered))
	if want := answered.Add(time.Second); ok || !hold.until.Equal(want) {
		t.Fatalf("spent second window: ok %v, hold until %v; want held until %v with no probe", ok, hold.until, want)
	}
}

// TestGateStopsProbingWhenA429DoesNotSayWhen: a probe's 429 without
// msBeforeNext teaches nothing the dates did not, so later windows are
// waited out by their reset instead of probed again.
func TestGateStopsProbingWhenA429DoesNotSayWhen(t *testing.T) {
	start := time.Date(2025, 3, 4, 5, 6, 7, 300e6, time.UTC)
	g := newGate(8, time.Minute)
	first, _, _, _ := g.acquire(context.Background(), reads, fixed(start))
	g.release(first, answer{status: http.StatusOK, header: simHeaders(start, 1, 0, start.Add(time.Second)), at: start})
	probe, _, _, _ := g.acquire(context.Background(), reads, fixed(start))
	if !probe.probe {
		t.Fatal("no probe into the spent window")
	}
	resetAt := start.Add(2 * time.Second) // 05:06:09, read through Date 05:06:07
	g.release(probe, answer{status: http.StatusTooManyRequests, at: start, pauseUntil: resetAt})

	next, _, _, _ := g.acquire(context.Background(), reads, fixed(resetAt))
	g.release(next, answer{status: http.StatusOK, header: simHeaders(resetAt, 1, 0, resetAt.Add(time.Second)), at: resetAt})
	if _, hold, ok, _ := g.acquire(context.Background(), reads, fixed(resetAt)); ok || !strings.Contains(hold.reason, "X-RateLimit-Reset") {
		t.Fatalf("the next spent window: ok %v, hold %q; want it waited out, not probed", ok, hold.reason)
	}
}

// TestGateOpensAWindowWithTheLastOnesSize: when a window ends, the next
// takes as many attempts as the last one had (X-RateLimit-Consumed +
// Remaining) before any answer of it says how many it has; the others
// wait for that answer instead of all going at once into a window they
// would spend many times over. A late answer of the window that is over
// does not count as one of the new window's.
func TestGateOpensAWindowWithTheLastOnesSize(t *testing.T) {
	start := time.Date(2025, 3, 4, 5, 6, 7, 300e6, time.UTC)
	g := newGate(8, time.Minute)
	first, _, _, _ := g.acquire(context.Background(), reads, fixed(start))
	g.release(first, answer{status: http.StatusOK, header: simHeaders(start, 1, 2, start.Add(30*time.Second)), at: start})
	late, _, _, _ := g.acquire(context.Background(), reads, fixed(start))

	now := start.Add(40 * time.Second)
	var sent []ticket
	for i := range 3 {
		s, _, ok, _ := g.acquire(context.Background(), reads, fixed(now))
		if !ok {
			t.Fatalf("attempt %d of the new window's 3 held", i+1)
		}
		sent = append(sent, s)
	}
	if !waits(g, now) {
		t.Fatal("a fourth attempt went before any answer of a window of 3")
	}
	g.release(late, answer{status: http.StatusOK, header: simHeaders(start, 2, 1, start.Add(30*time.Second)), at: now})
	if !waits(g, now) {
		t.Fatal("a late answer of the old window opened the new one")
	}
	// The API had counted one of the other two when it answered.
	g.release(sent[1], answer{status: http.StatusOK, header: simHeaders(now, 2, 1, now.Add(30*time.Second)), at: now})
	if _, hold, ok, _ := g.acquire(context.Background(), reads, fixed(now)); ok || !strings.Contains(hold.reason, "used up") {
		t.Fatalf("with 3 of 3 sent: ok %v, hold %q; want the window used up", ok, hold.reason)
	}
}

// TestGateWindowOutlastingA429sEnd: an answer counted in a window the gate
// took to be over (a 429 said it ended, the reset says later) to an
// attempt sent after that end puts the window back until its reset, rather
// than the gate sending on as if into a new one.
func TestGateWindowOutlastingA429sEnd(t *testing.T) {
	start := time.Date(2025, 3, 4, 5, 6, 7, 300e6, time.UTC)
	reset := start.Add(30 * time.Second)
	g := newGate(8, time.Minute)
	a, _, _, _ := g.acquire(context.Background(), reads, fixed(start))
	g.release(a, answer{status: http.StatusOK, header: simHeaders(start, 1, 5, reset), at: start})
	b, _, _, _ := g.acquire(context.Background(), reads, fixed(start))
	g.release(b, answer{status: http.StatusTooManyRequests, at: start, pauseUntil: start.Add(time.Second), exact: true})

	later := start.Add(2 * time.Second)
	c, _, ok, _ := g.acquire(context.Background(), reads, fixed(later))
	if !ok {
		t.Fatal("held after the 429's end")
	}
	g.release(c, answer{status: http.StatusOK, header: simHeaders(later, 6, 0, reset), at: later})
	_, hold, ok, _ := g.acquire(context.Background(), reads, fixed(later))
	// The reset, 05:06:38, read through Date 05:06:09.
	if want := later.Add(29 * time.Second); ok || !hold.until.Equal(want) {
		t.Fatalf("after an answer of the old window: ok %v, hold until %v; want held until its reset, %v", ok, hold.until, want)
	}
}
