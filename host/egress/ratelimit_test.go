package egress

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-runner/baton-runner/abi"
)

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func TestRateLimitWait(t *testing.T) {
	segmentBody := `{"errors":[{"type":"RequestError","message":"Too many requests","data":{"remainingPoints":0,"msBeforeNext":41250,"consumedPoints":60}}]}`
	tests := []struct {
		name   string
		body   string
		header map[string]string
		want   time.Duration // 0: no wait given, back off
		exact  bool          // from msBeforeNext
	}{
		{"body msBeforeNext", segmentBody, nil, 41250 * time.Millisecond, true},
		{"body wins over headers", segmentBody, map[string]string{"X-RateLimit-Reset": t0.Add(5 * time.Second).Format(http.TimeFormat), "Retry-After": "3"}, 41250 * time.Millisecond, true},
		{"reset RFC1123", `{"errors":[{"type":"RateLimited"}]}`, map[string]string{"X-RateLimit-Reset": t0.Add(7 * time.Second).Format(http.TimeFormat), "Retry-After": "3"}, 7 * time.Second, false},
		{"reset RFC5322 numeric zone", "", map[string]string{"X-RateLimit-Reset": t0.Add(9 * time.Second).In(time.FixedZone("", -5*3600)).Format(time.RFC1123Z)}, 9 * time.Second, false},
		{"reset in the past falls through", "", map[string]string{"X-RateLimit-Reset": t0.Add(-time.Minute).Format(http.TimeFormat), "Retry-After": "3"}, 3 * time.Second, false},
		{"retry-after seconds", "not json", map[string]string{"Retry-After": "3"}, 3 * time.Second, false},
		{"retry-after date", "", map[string]string{"Retry-After": t0.Add(11 * time.Second).Format(http.TimeFormat)}, 11 * time.Second, false},
		{"zero msBeforeNext falls through", `{"errors":[{"data":{"msBeforeNext":0}}]}`, map[string]string{"Retry-After": "2"}, 2 * time.Second, false},
		{"garbage falls through to backoff", `{"errors":[{"data":{"msBeforeNext":"soon"}}]}`, map[string]string{"X-RateLimit-Reset": "tomorrow", "Retry-After": "-1"}, 0, false},
		{"nothing: backoff", "", nil, 0, false},
		{"huge msBeforeNext capped", `{"errors":[{"data":{"msBeforeNext":1e300}}]}`, nil, maxWait, true},
		{"huge retry-after capped", "", map[string]string{"Retry-After": "99999999999"}, maxWait, false},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		got, exact, ok := rateLimitWait([]byte(tt.body), h, t0)
		if got != tt.want || ok != (tt.want != 0) {
			t.Errorf("%s: wait = %v, %v; want %v", tt.name, got, ok, tt.want)
		}
		if exact != tt.exact {
			t.Errorf("%s: exact = %v, want %v (msBeforeNext is, the dates are not)", tt.name, exact, tt.exact)
		}
	}
}

// TestBackOffJitterAndCap: waits double from the first, are jittered (two
// sequences differ) and never exceed the cap, jitter included.
func TestBackOffJitterAndCap(t *testing.T) {
	var firsts []time.Duration
	for range 50 {
		b := newBackOff(time.Second, 20*time.Second)
		var got []time.Duration
		for range 4 {
			got = append(got, b.next())
		}
		wantBackOff(t, "uncapped", got, time.Second, 4)
		firsts = append(firsts, got[0])
		for range 20 {
			if d := b.next(); d > 20*time.Second || d < 10*time.Second/2 {
				t.Fatalf("capped wait %v outside %v..%v", d, 10*time.Second/2, 20*time.Second)
			}
		}
	}
	if slices.Min(firsts) == slices.Max(firsts) {
		t.Errorf("50 back-offs all started with %v: no jitter", firsts[0])
	}
}

// limitedThenOK answers 429 (via set) for the first n requests, then 200.
func limitedThenOK(n int, set func(w http.ResponseWriter)) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, i int) {
		if i <= n {
			set(w)
			return
		}
		_, _ = w.Write([]byte(`{"data":"ok"}`))
	}
}

func TestDo429WaitsFromEachSource(t *testing.T) {
	clock := newFakeClock()
	now := clock.Now()
	tests := []struct {
		name string
		set  func(w http.ResponseWriter)
		want time.Duration
	}{
		{"msBeforeNext", func(w http.ResponseWriter) {
			w.WriteHeader(429)
			_, _ = w.Write([]byte(`{"errors":[{"data":{"msBeforeNext":41250}}]}`))
		}, 41250 * time.Millisecond},
		{"X-RateLimit-Reset", func(w http.ResponseWriter) {
			w.Header().Set("X-RateLimit-Reset", now.Add(20*time.Second).Format(http.TimeFormat))
			w.WriteHeader(429)
		}, 20 * time.Second},
		{"Retry-After", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
		}, 7 * time.Second},
		{"exponential", func(w http.ResponseWriter) { w.WriteHeader(429) }, 0},
	}
	for _, tt := range tests {
		srv := newRecorder(t, limitedThenOK(1, tt.set))
		env := newTestClient(t, srv.URL, nil)
		resp := env.c.Do(context.Background(), get("/users"))
		wantStatus(t, resp, 200)
		got := env.clock.Sleeps()
		if tt.want == 0 { // no wait named: the back-off's first step
			wantBackOff(t, tt.name, got, rateLimitBase, 1)
		} else if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s: sleeps = %v, want [%v]", tt.name, got, tt.want)
		}
		if rec := env.audit.one(t); rec.RateLimitWait != sum(got) || rec.Attempts != 2 {
			t.Errorf("%s: record = %+v", tt.name, rec)
		}
	}
}

func TestDo429RetriedForEveryMethod(t *testing.T) {
	// A 429 means the request was not processed, so even POST retries.
	for _, m := range []string{"POST", "PATCH"} {
		srv := newRecorder(t, limitedThenOK(2, func(w http.ResponseWriter) { w.WriteHeader(429) }))
		env := newTestClient(t, srv.URL, nil)
		wantStatus(t, env.c.Do(context.Background(), abi.HTTPRequest{Method: m, Path: "/groups", Body: []byte(`{}`)}), 200)
		wantBackOff(t, m, env.clock.Sleeps(), rateLimitBase, 2)
		reqs := srv.requests()
		if len(reqs) != 3 || string(reqs[2].Body) != `{}` {
			t.Errorf("%s: requests = %d, last body %q", m, len(reqs), reqs[len(reqs)-1].Body)
		}
	}
}

func TestDo429BeyondMaxWait(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.WriteHeader(429)
		_, _ = w.Write([]byte(`{"errors":[{"data":{"msBeforeNext":120000}}]}`))
	})
	env := newTestClient(t, srv.URL, nil) // default MaxRateLimitWait 60s
	start := env.clock.Now()
	resp := env.c.Do(context.Background(), get("/users?email=x@y.test"))
	wantError(t, resp, abi.CodeRateLimited, "HTTP 429")
	if resp.Error.RetryAfter == nil || !resp.Error.RetryAfter.Equal(start.Add(120*time.Second)) {
		t.Errorf("RetryAfter = %v, want %v", resp.Error.RetryAfter, start.Add(120*time.Second))
	}
	if len(env.clock.Sleeps()) != 0 || len(srv.requests()) != 1 {
		t.Errorf("waited although the wait exceeds MaxRateLimitWait")
	}
	rec := env.audit.one(t)
	if rec.Status != 429 || rec.Attempts != 1 || rec.Error == "" || rec.RateLimitWait != 0 {
		t.Errorf("record = %+v", rec)
	}

	// A configured bound below the wait also refuses to wait.
	env2 := newTestClient(t, srv.URL, func(c *Config) { c.MaxRateLimitWait = 10 * time.Second })
	wantError(t, env2.c.Do(context.Background(), get("/")), abi.CodeRateLimited, "HTTP 429")

	// Negative: never wait on the host, even for 1s.
	srv3 := newRecorder(t, limitedThenOK(1, func(w http.ResponseWriter) { w.WriteHeader(429) }))
	env3 := newTestClient(t, srv3.URL, func(c *Config) { c.MaxRateLimitWait = -1 })
	resp3 := env3.c.Do(context.Background(), get("/"))
	wantError(t, resp3, abi.CodeRateLimited, "HTTP 429")
	wantBackOff(t, "RetryAfter", []time.Duration{resp3.Error.RetryAfter.Sub(env3.clock.Now())}, rateLimitBase, 1)
}

// TestDo429BeyondMaxWaitHoldsTheOthers: a 429 whose wait the request
// hands back to the guest still holds the tenant's other requests, which
// are handed back too instead of each fetching its own 429; once the wait
// is over they are sent again.
func TestDo429BeyondMaxWaitHoldsTheOthers(t *testing.T) {
	srv := newRecorder(t, limitedThenOK(1, func(w http.ResponseWriter) {
		w.WriteHeader(429)
		_, _ = w.Write([]byte(`{"errors":[{"data":{"msBeforeNext":120000}}]}`))
	}))
	env := newTestClient(t, srv.URL, nil) // default MaxRateLimitWait 60s
	until := env.clock.Now().Add(120 * time.Second)
	wantError(t, env.c.Do(context.Background(), get("/users")), abi.CodeRateLimited, "HTTP 429")
	resp := env.c.Do(context.Background(), get("/groups"))
	wantError(t, resp, abi.CodeRateLimited, "HTTP 429")
	if resp.Error.RetryAfter == nil || !resp.Error.RetryAfter.Equal(until) {
		t.Errorf("RetryAfter = %v, want the first 429's end %v", resp.Error.RetryAfter, until)
	}
	if n := len(srv.requests()); n != 1 || len(env.clock.Sleeps()) != 0 {
		t.Fatalf("%d requests sent and waits %v during the 429's wait, want 1 and none", n, env.clock.Sleeps())
	}
	_ = env.clock.Sleep(context.Background(), 120*time.Second)
	wantStatus(t, env.c.Do(context.Background(), get("/groups")), 200)
}

// TestDo429PausesItsClassOnly: a 429 to a write holds the tenant's writes
// but not its reads, which the API counts apart (see gate).
func TestDo429PausesItsClassOnly(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		if r.Method != http.MethodGet {
			w.WriteHeader(429)
			_, _ = w.Write([]byte(`{"errors":[{"data":{"msBeforeNext":120000}}]}`))
		}
	})
	env := newTestClient(t, srv.URL, nil)
	post := abi.HTTPRequest{Method: http.MethodPost, Path: "/groups", Body: []byte(`{}`)}
	wantError(t, env.c.Do(context.Background(), post), abi.CodeRateLimited, "HTTP 429")
	wantStatus(t, env.c.Do(context.Background(), get("/groups")), 200)
	wantError(t, env.c.Do(context.Background(), post), abi.CodeRateLimited, "another request")
	if n := len(srv.requests()); n != 2 || len(env.clock.Sleeps()) != 0 {
		t.Fatalf("%d requests sent and waits %v, want the first write and the read, no waits", n, env.clock.Sleeps())
	}
}

func TestDo429WaitBeyondContextDeadline(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(429)
	})
	env := newTestClient(t, srv.URL, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wantError(t, env.c.Do(ctx, get("/")), abi.CodeRateLimited, "HTTP 429")
	if len(env.clock.Sleeps()) != 0 {
		t.Errorf("slept past the caller's deadline")
	}
}

// TestDo429FinalAfterTotalWait: 429s are waited out until the waits add up
// to five times MaxRateLimitWait (default 60s); then the request comes back
// rate limited.
func TestDo429FinalAfterTotalWait(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.WriteHeader(429)
		_, _ = w.Write([]byte(`{"errors":[{"data":{"msBeforeNext":50000}}]}`))
	})
	env := newTestClient(t, srv.URL, nil)
	resp := env.c.Do(context.Background(), get("/"))
	wantError(t, resp, abi.CodeRateLimited, "after 7 attempt(s)")
	if got := fmt.Sprint(env.clock.Sleeps()); got != "[50s 50s 50s 50s 50s 50s]" {
		t.Errorf("sleeps = %s", got)
	}
	if resp.Error.RetryAfter == nil || !resp.Error.RetryAfter.Equal(env.clock.Now().Add(50*time.Second)) {
		t.Errorf("RetryAfter = %v, want now+50s", resp.Error.RetryAfter)
	}
	rec := env.audit.one(t)
	if rec.Attempts != 7 || rec.RateLimitWait != 300*time.Second || rec.Status != 429 {
		t.Errorf("record = %+v", rec)
	}
}

// TestDo429StormOfShortWaits: many 429s with short waits are ridden out.
func TestDo429StormOfShortWaits(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= 40 {
			w.WriteHeader(429)
			_, _ = w.Write([]byte(`{"errors":[{"data":{"msBeforeNext":5}}]}`))
		}
	})
	env := newTestClient(t, srv.URL, nil)
	wantStatus(t, env.c.Do(context.Background(), get("/")), 200)
}

// TestOnWaitSaysWhy: every wait is announced with its reason and length
// before it is made, so an operator can log why a request is held up.
func TestOnWaitSaysWhy(t *testing.T) {
	srv := newRecorder(t, limitedThenOK(1, func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(429)
	}))
	var mu sync.Mutex
	var waits []Wait
	env := newTestClient(t, srv.URL, func(c *Config) {
		c.OnWait = func(w Wait) { mu.Lock(); waits = append(waits, w); mu.Unlock() }
	})
	wantStatus(t, env.c.Do(context.Background(), get("/users?cursor=secret")), 200)
	if len(waits) != 1 || waits[0].Wait != 7*time.Second || waits[0].Path != "/users" || !strings.Contains(waits[0].Reason, "429") || waits[0].Attempt != 1 {
		t.Errorf("waits = %+v; want one 7s wait for the 429 on /users after attempt 1", waits)
	}
	if got := env.clock.Sleeps(); len(got) != 1 || got[0] != 7*time.Second {
		t.Errorf("sleeps = %v", got)
	}
}
