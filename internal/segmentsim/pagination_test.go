package segmentsim

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"testing"
)

func TestCursorFormat(t *testing.T) {
	for off, want := range map[int]string{0: "MA==", 2: "Mg==", 3: "Mw==", 200: "MjAw"} {
		if got := encodeCursor(off); got != want {
			t.Errorf("encodeCursor(%d) = %s, want %s", off, got, want)
		}
		if n, ok := decodeCursor(want); !ok || n != off {
			t.Errorf("decodeCursor(%s) = %d, %v", want, n, ok)
		}
	}
}

// walk pages through path with the given spelling and returns all items.
func walk(t *testing.T, s *sim, path, key, spelling string, count int) []any {
	t.Helper()
	var all []any
	cursor := ""
	for pageNo := 0; ; pageNo++ {
		q := url.Values{}
		q.Set("pagination"+fmtKey(spelling, "count"), strconv.Itoa(count))
		if cursor != "" {
			q.Set("pagination"+fmtKey(spelling, "cursor"), cursor)
		}
		r := s.get(path + "?" + q.Encode())
		mustStatus(t, r, http.StatusOK)
		d := r.data()
		items := list(d, key)
		p := obj(d["pagination"])
		wantCurrent := cursor
		if wantCurrent == "" {
			wantCurrent = "MA=="
		}
		if p["current"] != wantCurrent {
			t.Fatalf("current %v, want %s", p["current"], wantCurrent)
		}
		if _, hasPrev := p["previous"]; hasPrev != (pageNo > 0) {
			t.Fatalf("page %d: previous present=%v", pageNo, hasPrev)
		}
		all = append(all, items...)
		if int(p["totalEntries"].(float64)) == 0 && len(items) != 0 {
			t.Fatal("totalEntries")
		}
		next, ok := p["next"].(string)
		if !ok {
			if _, present := p["next"]; present {
				t.Fatal("next must be omitted on the last page")
			}
			return all
		}
		if len(items) != count {
			t.Fatalf("non-last page with %d items", len(items))
		}
		cursor = next
	}
}

func fmtKey(spelling, name string) string {
	if spelling == "dot" {
		return "." + name
	}
	return "[" + name + "]"
}

func TestPagination(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	ws := s.srv.Snapshot()
	for _, spelling := range []string{"dot", "bracket"} {
		for _, count := range []int{1, 7, 60, 1000} {
			users := walk(t, s, "/users", "users", spelling, count)
			if len(users) != len(ws.Users) {
				t.Fatalf("%s/%d: %d users", spelling, count, len(users))
			}
			for i, u := range users {
				if obj(u)["id"] != ws.Users[i].ID {
					t.Fatalf("%s/%d: order differs at %d", spelling, count, i)
				}
			}
		}
	}
	// Every list endpoint paginates.
	for path, key := range map[string]string{"/groups": "userGroups", "/roles": "roles", "/sources": "sources",
		"/invites": "invites", "/groups/" + ws.Groups[0].ID + "/users": "users", "/warehouses": "warehouses",
		"/spaces": "spaces", "/users/" + ws.Users[1].ID + "/groups": "groups"} {
		if n := len(walk(t, s, path, key, "bracket", 1)); n == 0 {
			t.Fatalf("%s: nothing listed", path)
		}
	}
	if n := len(walk(t, s, "/functions?resourceType=SOURCE&x=1", "functions", "dot", 1)); n != 2 {
		t.Fatalf("functions: %d", n)
	}

	// Example of the docs: count=2 on 3 items.
	r := s.get("/roles?pagination.count=2&pagination.cursor=Mg%3D%3D")
	p := obj(r.data()["pagination"])
	if p["current"] != "Mg==" || p["previous"] != "MA==" || p["next"] != "NA==" || p["totalEntries"] != float64(len(ws.Roles)) {
		t.Fatalf("pagination %v", p)
	}
	// Default count is 200.
	big := newSim(t, DefaultConfig(450), Options{})
	d := big.get("/users").data()
	if len(list(d, "users")) != 200 || obj(d["pagination"])["next"] != encodeCursor(200) {
		t.Fatal("default count is not 200")
	}
	// A cursor past the end (items deleted meanwhile) gives an empty last page.
	d = s.get("/users?pagination[cursor]=" + url.QueryEscape(encodeCursor(5000))).data()
	if len(list(d, "users")) != 0 || obj(d["pagination"])["next"] != nil {
		t.Fatalf("past the end: %v", d)
	}
	// Unescaped padding is fine too.
	mustStatus(t, s.get("/users?pagination[cursor]=Mg=="), http.StatusOK)
}

func TestPaginationValidation(t *testing.T) {
	s := newSim(t, smallConfig(), Options{})
	for q, field := range map[string]string{
		"pagination[count]=0":     "pagination[count]",
		"pagination.count=1001":   "pagination.count",
		"pagination.count=-5":     "pagination.count",
		"pagination[count]=ten":   "pagination[count]",
		"pagination[cursor]=!!!!": "pagination[cursor]",
		"pagination.cursor=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("abc"))): "pagination.cursor",
		"pagination.cursor=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("-1"))):  "pagination.cursor",
		"pagination.cursor=MA": "pagination.cursor", // unpadded
	} {
		mustValidation(t, s.get("/users?"+q), field)
	}
	mustValidation(t, s.get("/groups?a=%zz"), "query")
	mustStatus(t, s.get("/users?pagination[count]=1000"), http.StatusOK)
	mustStatus(t, s.get("/users?pagination.count=1&pagination.cursor="), http.StatusOK)
}
