package segment

import (
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
)

func TestParseAccountProfile(t *testing.T) {
	ok := []struct {
		req   abi.CreateAccountRequest
		email string
		roles []string
	}{
		{abi.CreateAccountRequest{Profile: map[string]any{"email": " a@x.test ", "roles": []any{"r1", "r1", "r2"}}}, "a@x.test", []string{"r1", "r2"}},
		{abi.CreateAccountRequest{Emails: []string{"b@x.test"}}, "b@x.test", nil},
		{abi.CreateAccountRequest{Login: "c@x.test"}, "c@x.test", nil},
	}
	for _, tc := range ok {
		p, err := parseAccountProfile(tc.req)
		if err != nil || p.email != tc.email || strings.Join(p.roles, ",") != strings.Join(tc.roles, ",") {
			t.Errorf("%+v: %+v, %v", tc.req, p, err)
		}
	}
	for want, profile := range map[string]map[string]any{
		"needs an email":           {},
		"not an email address":     {"email": "a@"},
		`"email" must be a string`: {"email": 3.0},
		`"roles" must be a list`:   {"email": "a@x.test", "roles": "r1"},
		`"groups": item 1`:         {"email": "a@x.test", "groups": []any{"g", ""}},
	} {
		_, err := parseAccountProfile(abi.CreateAccountRequest{Profile: profile})
		if e := wantCode(t, err, abi.CodeInvalidArgument); !strings.Contains(e.Message, want) {
			t.Errorf("%v: %q lacks %q", profile, e.Message, want)
		}
	}
}
