package segmentsim

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestIsIAMWrite(t *testing.T) {
	for _, c := range []struct {
		method, path string
		want         bool
	}{
		{"POST", "/users/u/permissions", true}, {"PUT", "/users/u/permissions", true},
		{"DELETE", "/users", true}, {"POST", "/invites", true}, {"DELETE", "/invites", true},
		{"POST", "/groups/g/permissions", true}, {"PUT", "/groups/g/permissions", true},
		{"POST", "/groups/g/users", true}, {"DELETE", "/group/g/users", true}, {"PUT", "/group/g/users", true},
		{"POST", "/groups", true}, {"PATCH", "/groups/g", true}, {"DELETE", "/groups/g", true},
		{"GET", "/users", false}, {"GET", "/groups/g/users", false}, {"DELETE", "/groups/g/users", false},
		{"GET", "/invites", false}, {"GET", "/", false},
	} {
		segs, _ := splitPath(c.path)
		if got := isIAMWrite(c.method, segs); got != c.want {
			t.Errorf("%s %s: %v", c.method, c.path, got)
		}
	}
}

func TestWriteRateLimit(t *testing.T) {
	clock := newClock()
	s := newSim(t, smallConfig(), Options{Now: clock.Now})
	ws := s.srv.Snapshot()
	g := ws.Groups[0]
	body := jm{"emails": []string{ws.Users[0].Email}}
	start := clock.Now()
	for i := 1; i <= 60; i++ {
		r := s.do(http.MethodPost, "/groups/"+g.ID+"/users", body)
		mustStatus(t, r, http.StatusOK)
		if r.header.Get("X-RateLimit-Consumed") != strconv.Itoa(i) || r.header.Get("X-RateLimit-Remaining") != strconv.Itoa(60-i) {
			t.Fatalf("request %d: headers %v", i, r.header)
		}
		if reset, err := http.ParseTime(r.header.Get("X-RateLimit-Reset")); err != nil || !reset.Equal(start.Add(time.Minute)) {
			t.Fatalf("reset %q (%v)", r.header.Get("X-RateLimit-Reset"), err)
		}
		clock.Advance(500 * time.Millisecond)
	}
	// Reads are a separate class (unlimited here, so no headers).
	r := s.get("/users")
	mustStatus(t, r, http.StatusOK)
	if r.header.Get("X-RateLimit-Remaining") != "" {
		t.Fatal("unlimited class must not send rate-limit headers")
	}

	r = s.do(http.MethodPost, "/groups/"+g.ID+"/users", body)
	mustStatus(t, r, http.StatusTooManyRequests)
	e := r.firstError()
	d := obj(e["data"])
	if e["type"] != "RequestError" || e["message"] != "Too many requests" || d["remainingPoints"] != float64(0) ||
		d["consumedPoints"] != float64(60) || d["msBeforeNext"] != float64(30000) {
		t.Fatalf("429 body %s", r.raw)
	}
	if r.header.Get("Retry-After") != "30" || r.header.Get("X-RateLimit-Remaining") != "0" || r.header.Get("X-RateLimit-Consumed") != "60" {
		t.Fatalf("429 headers %v", r.header)
	}
	// Any IAM write shares the budget, errors included.
	mustStatus(t, s.do(http.MethodDelete, "/group/"+g.ID+"/users?emails.0=x", nil), http.StatusTooManyRequests)
	mustStatus(t, s.do(http.MethodPut, "/users/nope/permissions", jm{}), http.StatusTooManyRequests)

	clock.Advance(30 * time.Second) // window over
	r = s.do(http.MethodPost, "/groups/"+g.ID+"/users", body)
	mustStatus(t, r, http.StatusOK)
	if r.header.Get("X-RateLimit-Consumed") != "1" || r.header.Get("X-RateLimit-Remaining") != "59" {
		t.Fatalf("new window headers %v", r.header)
	}
	// Error responses carry the headers too.
	r = s.do(http.MethodPut, "/users/nope/permissions", jm{"permissions": []any{}})
	mustNotFound(t, r)
	if r.header.Get("X-RateLimit-Consumed") != "2" {
		t.Fatalf("headers on error %v", r.header)
	}
}

func TestReadRateLimitPerToken(t *testing.T) {
	clock := newClock()
	s := newSim(t, smallConfig(), Options{Now: clock.Now, ReadLimitPerMinute: 3, WriteLimitPerMinute: -1})
	for i := 1; i <= 3; i++ {
		r := s.get("/roles")
		mustStatus(t, r, 200)
		if r.header.Get("X-RateLimit-Remaining") != strconv.Itoa(3-i) {
			t.Fatalf("headers %v", r.header)
		}
		// A client converts the reset through Date: both on the same clock.
		if got, want := r.header.Get("Date"), clock.Now().Format(http.TimeFormat); got != want {
			t.Fatalf("Date %q, want the limiter's clock %q", got, want)
		}
	}
	r := s.get("/users")
	mustStatus(t, r, http.StatusTooManyRequests)
	if obj(r.firstError()["data"])["msBeforeNext"] != float64(60000) || r.header.Get("Retry-After") != "60" {
		t.Fatalf("429 %s %v", r.raw, r.header)
	}
	// Another token has its own budget (and is then rejected by auth).
	other := s.do(http.MethodGet, "/users", nil, "Authorization", "Bearer other")
	mustStatus(t, other, http.StatusUnauthorized)
	if other.header.Get("X-RateLimit-Consumed") != "1" {
		t.Fatalf("other token headers %v", other.header)
	}
	// Writes are unlimited here: no headers, no 429.
	ws := s.srv.Snapshot()
	w := s.do(http.MethodPost, "/groups/"+ws.Groups[0].ID+"/users", jm{"emails": []string{ws.Users[0].Email}})
	mustStatus(t, w, 200)
	if w.header.Get("X-RateLimit-Consumed") != "" {
		t.Fatal("unlimited writes must not send headers")
	}
	clock.Advance(time.Minute)
	mustStatus(t, s.get("/users"), 200)
}

func TestMsUntilRoundsUp(t *testing.T) {
	now := time.Unix(0, 0)
	if msUntil(now, now.Add(1500*time.Microsecond)) != 2 || msUntil(now, now) != 0 || msUntil(now, now.Add(-time.Second)) != 0 {
		t.Fatal("msUntil")
	}
}

func TestResetHeaderRoundsUp(t *testing.T) {
	h := http.Header{}
	reset := time.Date(2025, 3, 1, 12, 1, 0, 400e6, time.UTC)
	setRateHeaders(h, reset.Add(-time.Minute), 1, 2, reset)
	if got := h.Get("X-RateLimit-Reset"); got != "Sat, 01 Mar 2025 12:01:01 GMT" {
		t.Fatalf("reset %q", got)
	}
	// Date is truncated, as net/http writes it, from the limiter's clock.
	if got := h.Get("Date"); got != "Sat, 01 Mar 2025 12:00:00 GMT" {
		t.Fatalf("date %q", got)
	}
}
