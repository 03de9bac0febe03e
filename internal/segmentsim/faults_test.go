package segmentsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestInjectStatus(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	s.srv.InjectStatus("GET", "/users", http.StatusServiceUnavailable, 2)
	mustStatus(t, s.get("/roles"), 200) // other path
	for range 2 {
		r := s.get("/users/" + s.srv.Snapshot().Users[0].ID) // prefix match
		mustStatus(t, r, http.StatusServiceUnavailable)
		if e := r.firstError(); e["type"] != "ServiceUnavailable" || e["status"] != float64(503) {
			t.Fatalf("503 body %s", r.raw)
		}
	}
	mustStatus(t, s.get("/users"), 200) // exhausted

	// Method filter and the proxy-style 502.
	s.srv.InjectStatus("POST", "/", http.StatusBadGateway, 1)
	mustStatus(t, s.get("/users"), 200)
	ws := s.srv.Snapshot()
	r := s.do(http.MethodPost, "/groups/"+ws.Groups[0].ID+"/users", jm{"emails": []string{ws.Users[0].Email}})
	if r.status != 502 || r.body != nil || !strings.Contains(string(r.raw), "<html>") || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("502: %d %q", r.status, r.raw)
	}
	if len(s.srv.Snapshot().Groups[0].MemberIDs) != len(ws.Groups[0].MemberIDs) {
		t.Fatal("a request failed by injection must not run")
	}

	// Empty 204 and the short RateLimited variant; "" matches any method.
	s.srv.InjectStatus("", "/roles", http.StatusNoContent, 1)
	s.srv.InjectStatus("", "/roles", http.StatusTooManyRequests, 1)
	r = s.get("/roles")
	if r.status != 204 || len(r.raw) != 0 {
		t.Fatalf("204: %d %q", r.status, r.raw)
	}
	r = s.get("/roles")
	mustStatus(t, r, 429)
	if r.firstError()["type"] != "RateLimited" {
		t.Fatalf("%s", r.raw)
	}

	s.srv.InjectStatus("", "/", 500, 100)
	s.srv.ClearFaults()
	mustStatus(t, s.get("/"), 200)
	s.srv.InjectStatus("", "/", 500, 0) // count 0 arms nothing
	mustStatus(t, s.get("/"), 200)
}

func TestInjectRateLimit(t *testing.T) {
	clock := newClock()
	s := newSim(t, smallConfig(), Options{Now: clock.Now})
	s.srv.InjectRateLimit("GET", "/groups", 1, 1234)
	r := s.get("/groups")
	mustStatus(t, r, http.StatusTooManyRequests)
	d := obj(r.firstError()["data"])
	if r.firstError()["type"] != "RequestError" || d["msBeforeNext"] != float64(1234) || d["remainingPoints"] != float64(0) {
		t.Fatalf("body %s", r.raw)
	}
	if r.header.Get("Retry-After") != "2" || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("headers %v", r.header)
	}
	reset, err := http.ParseTime(r.header.Get("X-RateLimit-Reset"))
	if err != nil || reset.Before(clock.Now()) || reset.After(clock.Now().Add(2*1e9)) {
		t.Fatalf("reset %v %v", reset, err)
	}
	mustStatus(t, s.get("/groups"), 200)
}

func TestInjectMalformed(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	s.srv.InjectMalformed("GET", "/users", 1)
	r := s.get("/users")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || len(r.raw) == 0 {
		t.Fatalf("%d %q", r.status, r.raw)
	}
	var v any
	if json.Unmarshal(r.raw, &v) == nil {
		t.Fatalf("body is valid JSON: %s", r.raw)
	}
	if !strings.HasPrefix(string(r.raw), `{"data":`) {
		t.Fatalf("should look like the start of a real answer: %q", r.raw)
	}
	mustStatus(t, s.get("/users"), 200)
	// Writes are executed even though the answer is garbled.
	ws := s.srv.Snapshot()
	g := ws.Groups[1]
	u := outsider(ws, g, 0)
	s.srv.InjectMalformed("", "/groups/"+g.ID, 1)
	r = s.do(http.MethodPost, "/groups/"+g.ID+"/users", jm{"emails": []string{u.Email}})
	if r.status != 200 || r.body != nil {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if len(s.srv.Snapshot().GroupByID(g.ID).MemberIDs) != len(g.MemberIDs)+1 {
		t.Fatal("write behind a malformed answer did not happen")
	}
}

func TestFailureRate(t *testing.T) {
	statuses := func(seed int64) []int {
		s := newSim(t, smallConfig(), Options{FailureRate: 0.3, FailureSeed: seed})
		var out []int
		for range 40 {
			out = append(out, s.get("/").status)
		}
		return out
	}
	a, b := statuses(5), statuses(5)
	fails := map[int]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same FailureSeed, different outcomes")
		}
		fails[a[i]]++
	}
	if fails[200] == 40 || fails[200] < 15 || fails[500]+fails[502]+fails[503]+fails[200] != 40 {
		t.Fatalf("distribution %v", fails)
	}
	all := newSim(t, smallConfig(), Options{FailureRate: 1})
	for range 5 {
		if st := all.get("/").status; st < 500 {
			t.Fatalf("status %d with FailureRate 1", st)
		}
	}
}

func TestInjectResetAndDelay(t *testing.T) {
	srv := NewServer(Generate(DefaultConfig(5)), Options{})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	get := func(c *http.Client) (int, error) {
		req, _ := http.NewRequest("GET", ts.URL+"/roles", nil)
		req.Header.Set("Authorization", "Bearer "+DefaultToken)
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	srv.InjectReset("GET", "/roles", 1)
	if _, err := get(http.DefaultClient); err == nil {
		t.Error("a reset request got a response")
	}
	if code, err := get(http.DefaultClient); err != nil || code != 200 {
		t.Errorf("after the reset: %d, %v", code, err)
	}
	srv.InjectDelay("GET", "/roles", 1, time.Hour)
	if _, err := get(&http.Client{Timeout: 100 * time.Millisecond}); err == nil {
		t.Error("a delayed request answered within 100ms")
	}
	if code, err := get(http.DefaultClient); err != nil || code != 200 {
		t.Errorf("after the delay: %d, %v", code, err)
	}
}
