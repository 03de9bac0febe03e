package segment

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// pieces of generated documents: plain, escaped, non-ASCII, invalid.
var jsonStrings = []string{`""`, `"a"`, `"Ann Lee"`, `"caf\u00e9"`, `"x\"y"`, `"日本"`, `"a\/b"`, "\"\xff\"", `null`, `5`, `true`, `{}`, `[]`}

func randJSON(r *rand.Rand, depth int) string {
	switch n := r.IntN(10); {
	case n < 6 || depth > 2:
		return jsonStrings[r.IntN(len(jsonStrings))]
	case n < 8:
		return `[` + randJSON(r, depth+1) + `,` + randJSON(r, depth+1) + `]`
	default:
		return `{"k":` + randJSON(r, depth+1) + `,"roleId":` + randJSON(r, depth+1) + `}`
	}
}

// randObject builds an object from keys (some duplicated, some in another
// case, some unknown) with values made by val.
func randObject(r *rand.Rand, keys []string, val func(key string) string) string {
	var parts []string
	for _, k := range keys {
		if r.IntN(5) == 0 {
			continue
		}
		switch r.IntN(20) {
		case 0:
			k = strings.ToUpper(k)
		case 1:
			parts = append(parts, `"`+k+`":`+val(k)) // duplicate
		}
		parts = append(parts, `"`+k+`":`+val(k))
	}
	if r.IntN(3) == 0 {
		parts = append(parts, `"policyId":`+randJSON(r, 0))
	}
	r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	return `{` + strings.Join(parts, ",") + `}`
}

func randList(r *rand.Rand, item func() string) string {
	switch r.IntN(6) {
	case 0:
		return `null`
	case 1:
		return `[]`
	case 2:
		return randJSON(r, 0)
	}
	var items []string
	for range 1 + r.IntN(3) {
		if r.IntN(10) == 0 {
			items = append(items, `null`)
		} else {
			items = append(items, item())
		}
	}
	return `[` + strings.Join(items, ",") + `]`
}

func randStr(r *rand.Rand) string {
	if r.IntN(4) == 0 {
		return jsonStrings[r.IntN(len(jsonStrings))]
	}
	return `"s` + string(rune('a'+r.IntN(26))) + `"`
}

func randLabel(r *rand.Rand) string {
	return randObject(r, labelKeys, func(string) string { return randStr(r) })
}

func randPermission(r *rand.Rand) string {
	return randObject(r, permissionKeys, func(k string) string {
		switch k {
		case "resources":
			return randList(r, func() string {
				return randObject(r, resourceKeys, func(k string) string {
					if k == "labels" {
						return randList(r, func() string { return randLabel(r) })
					}
					return randStr(r)
				})
			})
		case "labels":
			return randList(r, func() string { return randLabel(r) })
		}
		return randStr(r)
	})
}

func randUserDoc(r *rand.Rand) string {
	u := randObject(r, userKeys, func(k string) string {
		if k == "permissions" {
			return randList(r, func() string { return randPermission(r) })
		}
		return randStr(r)
	})
	data := `{"user":` + u + `}`
	switch r.IntN(8) {
	case 0:
		data = `{"meta":` + randJSON(r, 0) + `,"user":` + u + `}`
	case 1:
		data = `{"user":null}`
	case 2:
		data = `{"user":` + u + `,"user":` + u + `}`
	}
	doc := `{"data":` + data + `}`
	if r.IntN(8) == 0 {
		doc = `{"other":[1,{"a":"}"}],"data":` + data + `}`
	}
	return doc
}

func mutate(r *rand.Rand, s string) string {
	b := []byte(s)
	switch r.IntN(3) {
	case 0:
		return s[:r.IntN(len(s))]
	case 1:
		const junk = `{}[],:"\ 0n`
		b[r.IntN(len(b))] = junk[r.IntN(len(junk))]
	}
	return string(b)
}

func TestDecodeUserDocMatchesUnmarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	accepted := 0
	for range 20000 {
		doc := randUserDoc(r)
		if r.IntN(4) == 0 {
			doc = mutate(r, doc)
		}
		u, ok := decodeUserDoc([]byte(doc))
		if !ok {
			continue
		}
		accepted++
		var env envelope[map[string]json.RawMessage]
		if err := json.Unmarshal([]byte(doc), &env); err != nil {
			t.Fatalf("accepted %s, which json.Unmarshal refuses: %v", doc, err)
		}
		var want user
		if err := json.Unmarshal(env.Data["user"], &want); err != nil || string(env.Data["user"]) == "null" {
			t.Fatalf("accepted %s, whose data.user json.Unmarshal refuses: %v", doc, err)
		}
		if !reflect.DeepEqual(*u, want) {
			t.Fatalf("decodeUserDoc(%s)\n = %#v\nwant %#v", doc, *u, want)
		}
	}
	if accepted < 1000 {
		t.Fatalf("only %d of 20000 documents took the fast path", accepted)
	}
}

func TestDecodePermissionsMatchesUnmarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	accepted := 0
	for range 20000 {
		doc := randList(r, func() string { return randPermission(r) })
		if r.IntN(4) == 0 {
			doc = mutate(r, doc)
		}
		got, ok := decodePermissions([]byte(doc))
		if !ok {
			continue
		}
		accepted++
		var want []permission
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("accepted %s, which json.Unmarshal refuses: %v", doc, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodePermissions(%s)\n = %#v\nwant %#v", doc, got, want)
		}
	}
	if accepted < 1000 {
		t.Fatalf("only %d of 20000 documents took the fast path", accepted)
	}
	// What the connector stores round-trips.
	perms := []permission{{RoleID: "r", RoleName: "n", Resources: []permResource{{ID: "ws", Type: "WORKSPACE", Labels: []label{{Key: "k", Value: "v"}}}}}}
	b, _ := json.Marshal(perms)
	if got, ok := decodePermissions(b); !ok || !reflect.DeepEqual(got, perms) {
		t.Fatalf("round trip of %s: %#v, %v", b, got, ok)
	}
}

func FuzzDecodeUserDoc(f *testing.F) {
	f.Add([]byte(`{"data":{"user":{"id":"u","name":"n","email":"e","permissions":[{"roleId":"r","resources":[{"id":"w","type":"WORKSPACE","labels":[{"key":"k","value":"v"}]}]}]}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		u, ok := decodeUserDoc(doc)
		if !ok {
			return
		}
		var env envelope[map[string]json.RawMessage]
		var want user
		if json.Unmarshal(doc, &env) != nil || json.Unmarshal(env.Data["user"], &want) != nil {
			t.Fatalf("accepted %s, which json.Unmarshal refuses", doc)
		}
		if !reflect.DeepEqual(*u, want) {
			t.Fatalf("decodeUserDoc(%s) = %#v, want %#v", doc, *u, want)
		}
	})
}

func randUserPage(r *rand.Rand) string {
	users := randList(r, func() string {
		return randObject(r, userKeys[:3], func(string) string { return randStr(r) })
	})
	pag := randObject(r, []string{"current", "next"}, func(string) string { return randStr(r) })
	var members []string
	switch r.IntN(6) {
	case 0:
		members = []string{`"users":` + users}
	case 1:
		members = []string{`"pagination":null`, `"users":` + users}
	case 2:
		members = []string{`"users":` + users, `"pagination":` + pag, `"users":[]`}
	case 3:
		members = []string{`"pagination":` + pag}
	default:
		members = []string{`"users":` + users, `"pagination":` + pag, `"total":` + randJSON(r, 0)}
	}
	return `{"data":{` + strings.Join(members, ",") + `}}`
}

func TestDecodeUserPageMatchesUnmarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	accepted := 0
	for range 20000 {
		doc := randUserPage(r)
		if r.IntN(4) == 0 {
			doc = mutate(r, doc)
		}
		got, gotPage, ok := decodeUserPage([]byte(doc), "users")
		if !ok {
			continue
		}
		accepted++
		// What fetchPage's encoding/json path makes of it.
		var env envelope[map[string]json.RawMessage]
		if err := json.Unmarshal([]byte(doc), &env); err != nil {
			t.Fatalf("accepted %s, which json.Unmarshal refuses: %v", doc, err)
		}
		raw, found := env.Data["users"]
		var want []user
		if !found || string(raw) == "null" || json.Unmarshal(raw, &want) != nil {
			t.Fatalf("accepted %s, whose data.users fetchPage refuses", doc)
		}
		var wantPage pagination
		if pr, ok := env.Data["pagination"]; ok && json.Unmarshal(pr, &wantPage) != nil {
			t.Fatalf("accepted %s, whose data.pagination fetchPage refuses", doc)
		}
		if !reflect.DeepEqual(got, want) || gotPage != wantPage {
			t.Fatalf("decodeUserPage(%s)\n = %#v %#v\nwant %#v %#v", doc, got, gotPage, want, wantPage)
		}
	}
	if accepted < 1000 {
		t.Fatalf("only %d of 20000 pages took the fast path", accepted)
	}
}
