package egress

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/secret"
)

// secretValue holds what each place encodes differently: JSON's `"` and
// `\`, a form's and a query's `&`, `+`, `=` and space, a path's `/`, and
// percent signs.
const secretValue = `p@ss "w\o&r/d= 100%+x`

var (
	keyText   = abi.SecretPlaceholder("api_key")
	keyIDText = abi.SecretPlaceholder("api_key_id") // begins with keyText
)

// withSecrets makes a client of a guest that authenticates itself with
// two secret fields, one placeholder a prefix of the other.
func withSecrets(c *Config) {
	c.Token = secret.Secret{}
	c.GuestCredentials = true
	c.Secrets = []Placeholder{
		{Text: keyText, Value: secret.New(secretValue)},
		{Text: keyIDText, Value: secret.New("id-42")},
	}
}

func TestSecretsSubstitutedWhereTheyStand(t *testing.T) {
	for _, tc := range []struct {
		name  string
		req   abi.HTTPRequest
		check func(t *testing.T, r seenRequest, hr *http.Request)
	}{
		{"header", abi.HTTPRequest{Method: "GET", Path: "/", Headers: map[string][]string{"X-Api-Key": {keyText}, "X-Key-Id": {"id=" + keyIDText}}},
			func(t *testing.T, r seenRequest, _ *http.Request) {
				if r.Header.Get("X-Api-Key") != secretValue || r.Header.Get("X-Key-Id") != "id=id-42" {
					t.Errorf("headers %v", r.Header)
				}
			}},
		{"bearer", abi.HTTPRequest{Method: "GET", Path: "/", Headers: map[string][]string{"Authorization": {"Bearer " + keyText}}},
			func(t *testing.T, r seenRequest, _ *http.Request) {
				if got := r.Header.Get("Authorization"); got != "Bearer "+secretValue {
					t.Errorf("Authorization %q", got)
				}
			}},
		{"basic", abi.HTTPRequest{Method: "GET", Path: "/", Headers: map[string][]string{
			"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(keyIDText+":"+keyText))}}},
			func(t *testing.T, _ seenRequest, hr *http.Request) {
				if u, p, ok := hr.BasicAuth(); !ok || u != "id-42" || p != secretValue {
					t.Errorf("Basic credentials %q %q %t", u, p, ok)
				}
			}},
		{"path and query", abi.HTTPRequest{Method: "GET", Path: "/keys/" + keyText + "/x?key=" + keyText + "&id=" + keyIDText},
			func(t *testing.T, r seenRequest, hr *http.Request) {
				if r.Path != "/keys/"+secretValue+"/x" || strings.Count(hr.URL.EscapedPath(), "/") != 3 {
					t.Errorf("path %q (escaped %q), want the value as one segment", r.Path, hr.URL.EscapedPath())
				}
				if q := hr.URL.Query(); q.Get("key") != secretValue || q.Get("id") != "id-42" || len(q) != 2 {
					t.Errorf("query %v", q)
				}
			}},
		{"form body", abi.HTTPRequest{Method: "POST", Path: "/oauth/token",
			Headers: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}},
			Body:    []byte("grant_type=client_credentials&client_id=" + keyIDText + "&client_secret=" + keyText)},
			func(t *testing.T, r seenRequest, _ *http.Request) {
				f, err := url.ParseQuery(string(r.Body))
				if err != nil || f.Get("client_secret") != secretValue || f.Get("client_id") != "id-42" || len(f) != 3 {
					t.Errorf("form %v (%v)", f, err)
				}
			}},
		{"JSON body", abi.HTTPRequest{Method: "POST", Path: "/login",
			Body: []byte(`{"key":"` + keyText + `","note":"id ` + keyIDText + `"}`)},
			func(t *testing.T, r seenRequest, _ *http.Request) {
				var got map[string]string
				if err := json.Unmarshal(r.Body, &got); err != nil || got["key"] != secretValue || got["note"] != "id id-42" {
					t.Errorf("JSON %s: %v (%v)", r.Body, got, err)
				}
			}},
		{"vendor JSON body", abi.HTTPRequest{Method: "POST", Path: "/login",
			Headers: map[string][]string{"Content-Type": {"application/vnd.api+json; charset=utf-8"}},
			Body:    []byte(`{"key":"` + keyText + `"}`)},
			func(t *testing.T, r seenRequest, _ *http.Request) {
				var got map[string]string
				if err := json.Unmarshal(r.Body, &got); err != nil || got["key"] != secretValue {
					t.Errorf("JSON %s: %v (%v)", r.Body, got, err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hr *http.Request
			srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) { hr = r })
			env := newTestClient(t, srv.URL, withSecrets)
			wantStatus(t, env.c.Do(context.Background(), tc.req), 200)
			tc.check(t, srv.requests()[0], hr)
			rec := env.audit.one(t)
			if rec.Secrets < 1 {
				t.Errorf("record counts %d substitutions", rec.Secrets)
			}
			noSecret(t, "record", fmt.Sprintf("%+v", rec))
		})
	}
}

func TestSecretsCountedAndRetriedSubstituted(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	env := newTestClient(t, srv.URL, withSecrets)
	resp := env.c.Do(context.Background(), abi.HTTPRequest{Method: http.MethodPut, Path: "/k/" + keyIDText,
		Headers: map[string][]string{"X-Api-Key": {keyText}}, Body: []byte(`{"k":"` + keyText + `"}`)})
	wantStatus(t, resp, 200)
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("server saw %d attempts, want 2", len(reqs))
	}
	for i, r := range reqs {
		var body map[string]string
		_ = json.Unmarshal(r.Body, &body)
		if body["k"] != secretValue || r.Path != "/k/id-42" || r.Header.Get("X-Api-Key") != secretValue {
			t.Errorf("attempt %d sent %s %q %v", i+1, r.Path, r.Body, r.Header)
		}
	}
	if rec := env.audit.one(t); rec.Secrets != 3 || rec.Attempts != 2 {
		t.Errorf("record %+v, want 3 substitutions in 2 attempts", rec)
	}
}

func TestSecretsRefusedWhereTheyCannotBeEncoded(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		req  abi.HTTPRequest
		want string
	}{
		{"octet-stream body", withSecrets, abi.HTTPRequest{Method: "POST", Path: "/upload",
			Headers: map[string][]string{"Content-Type": {"application/octet-stream"}}, Body: []byte("raw " + keyText)},
			`a secret placeholder (field api_key) in a "application/octet-stream" body; the host substitutes secrets only in form and JSON bodies`},
		{"multipart body", withSecrets, abi.HTTPRequest{Method: "POST", Path: "/upload",
			Headers: map[string][]string{"Content-Type": {"multipart/form-data; boundary=x"}}, Body: []byte("--x\r\n\r\n" + keyIDText + "\r\n--x--")},
			"(field api_key_id) in a \"multipart/form-data; boundary=x\" body"},
		{"newline in a header", func(c *Config) {
			withSecrets(c)
			c.Secrets[0].Value = secret.New(secretValue + "\n")
		}, abi.HTTPRequest{Method: "GET", Path: "/", Headers: map[string][]string{"X-Api-Key": {keyText}}},
			"the value of secret field api_key contains a control character (CR, LF, NUL, ...) and cannot be sent in header X-Api-Key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRecorder(t, nil)
			env := newTestClient(t, srv.URL, tc.mod)
			resp := env.c.Do(context.Background(), tc.req)
			wantError(t, resp, abi.CodeEgressDenied, tc.want)
			noSecret(t, "error", resp.Error.Message)
			if rec := env.audit.one(t); rec.Denied == "" || rec.Attempts != 0 {
				t.Errorf("record %+v, want a denial before any attempt", rec)
			}
			if n := len(srv.requests()); n != 0 {
				t.Errorf("server saw %d requests", n)
			}
		})
	}

	// A newline is no problem where it is escaped, and a body without a
	// placeholder is sent whatever its type.
	srv := newRecorder(t, nil)
	env := newTestClient(t, srv.URL, func(c *Config) {
		withSecrets(c)
		c.Secrets[0].Value = secret.New("line\n")
	})
	wantStatus(t, env.c.Do(context.Background(), abi.HTTPRequest{Method: "POST", Path: "/", Body: []byte(`"` + keyText + `"`)}), 200)
	wantStatus(t, env.c.Do(context.Background(), abi.HTTPRequest{Method: "POST", Path: "/",
		Headers: map[string][]string{"Content-Type": {"application/octet-stream"}}, Body: []byte("baton-runner-secret.unknown")}), 200)
	if got := srv.requests(); string(got[0].Body) != `"line\n"` || string(got[1].Body) != "baton-runner-secret.unknown" {
		t.Errorf("bodies %q, %q", got[0].Body, got[1].Body)
	}
}

// TestSecretEchoedBackIsScrubbed: an API that echoes a credential, raw,
// JSON- or URL-escaped, in its body or in a header the guest sees, must
// not put it in guest memory: the guest reads the placeholder.
func TestSecretEchoedBackIsScrubbed(t *testing.T) {
	jsonValue, _ := json.Marshal(secretValue)
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Link", "<https://x.test/?key="+url.QueryEscape(secretValue)+">; rel=next")
		w.Header().Set("Location", "/keys/"+url.PathEscape(secretValue))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusFound)
		fmt.Fprintf(w, `{"you_sent":%s,"raw":"%s","id":"id-42"}`, jsonValue, r.Header.Get("X-Api-Key"))
	})
	env := newTestClient(t, srv.URL, withSecrets)
	resp := env.c.Do(context.Background(), abi.HTTPRequest{Method: "GET", Path: "/", Headers: map[string][]string{"X-Api-Key": {keyText}}})
	wantStatus(t, resp, http.StatusFound)
	want := `{"you_sent":"` + keyText + `","raw":"` + keyText + `","id":"` + keyIDText + `"}`
	if string(resp.Body) != want {
		t.Errorf("body %s, want %s", resp.Body, want)
	}
	if l := resp.Headers["Link"]; len(l) != 1 || l[0] != "<https://x.test/?key="+keyText+">; rel=next" {
		t.Errorf("Link %q", l)
	}
	if l := resp.Headers["Location"]; len(l) != 1 || l[0] != "/keys/"+keyText {
		t.Errorf("Location %q", l)
	}
	noSecret(t, "response", fmt.Sprintf("%+v %s", resp.Headers, resp.Body))
}

// TestSecretEchoKeepsTheBatchBudget: a body the scrubbing lengthens is
// charged its new length, so a batch's bodies never exceed its budget.
func TestSecretEchoKeepsTheBatchBudget(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request, _ int) { _, _ = w.Write([]byte("id-42")) })
	env := newTestClient(t, srv.URL, withSecrets)
	b := NewBatchBudget(int64(len(keyIDText)) - 1)
	resp := env.c.Do(WithBatchBudget(context.Background(), b), get("/"))
	wantError(t, resp, abi.CodeUnavailable, "exceed")
	if b.remaining() != b.size {
		t.Errorf("budget left %d of %d after a refused body", b.remaining(), b.size)
	}
	b = NewBatchBudget(int64(len(keyIDText)))
	wantStatus(t, env.c.Do(WithBatchBudget(context.Background(), b), get("/")), 200)
	if b.remaining() != 0 {
		t.Errorf("budget left %d, want the scrubbed body's length charged", b.remaining())
	}
}

// TestSecretValuesNeverInErrorsOrRecords: a resolver error quoting the
// value and a failing URL keep it out of the guest's error and the audit
// log, as the token is kept out.
func TestSecretValuesNeverInErrorsOrRecords(t *testing.T) {
	r := &fakeResolver{err: fmt.Errorf("lookup failed near %s and %s", secretValue, url.QueryEscape(secretValue))}
	env := newTestClient(t, "https://api.demo.test", func(c *Config) {
		withSecrets(c)
		c.MaxRetries = -1
		c.hooks.Resolver = r
	})
	var waits []Wait
	env.c.onWait = func(w Wait) { waits = append(waits, w) }
	resp := env.c.Do(context.Background(), abi.HTTPRequest{Method: "GET", Path: "/k/" + keyText + "?k=" + keyText})
	wantError(t, resp, abi.CodeUnavailable, secret.Redacted)
	noSecret(t, "error", resp.Error.Message)
	rec := env.audit.one(t)
	b, _ := json.Marshal(rec)
	noSecret(t, "record", fmt.Sprintf("%+v %s %+v", rec, b, waits))
}

func TestNewChecksPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		ps   []Placeholder
		want string
	}{
		{[]Placeholder{{Text: "hunter2-looks-like-a-value", Value: secret.New("x")}}, `secret placeholder 1 does not begin with "baton-runner-secret."`},
		{[]Placeholder{{Text: abi.SecretPlaceholder("a b")}}, "the field name must be letters, digits"},
		{[]Placeholder{{Text: abi.SecretPlaceholderPrefix}}, "the field name must be"},
		{[]Placeholder{{Text: keyText}, {Text: keyText}}, "is given twice"},
	} {
		_, err := New(Config{BaseURL: "https://api.demo.test", Secrets: tc.ps})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%v): %v, want %q", tc.ps, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New quotes a Text without the prefix: %v", err)
		}
	}
}

// TestConfigAndClientNeverPrintSecrets: the values stay out of a printed
// Config and Client, though the Client keeps their escaped forms.
func TestConfigAndClientNeverPrintSecrets(t *testing.T) {
	var cfg Config
	cfg.BaseURL = "https://api.demo.test"
	withSecrets(&cfg)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(cfg)
	for _, o := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), string(j),
		fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", *c)} {
		noSecret(t, "formatted config", o)
	}
}

// noSecret fails if s holds secretValue in any spelling an API or a
// message could give it.
func noSecret(t *testing.T, what, s string) {
	t.Helper()
	goJSON, _ := json.Marshal(secretValue)
	for _, f := range []string{secretValue, string(goJSON[1 : len(goJSON)-1]), jsonEscape(secretValue), url.QueryEscape(secretValue), url.PathEscape(secretValue), "id-42"} {
		if strings.Contains(s, f) {
			t.Fatalf("%s holds a secret value (%q): %q", what, f, s)
		}
	}
}
