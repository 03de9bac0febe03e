package abi_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/abi"
)

// TestBatchReplyRoundTrip: bodies travel raw, in order, empty ones too,
// with each response's status, headers and error.
func TestBatchReplyRoundTrip(t *testing.T) {
	in := []abi.HTTPResponse{
		{Status: 200, Headers: map[string][]string{"Content-Type": {"application/json"}}, Body: []byte(`{"a":"\n"}`)},
		{Status: 404},
		{Error: abi.Errorf(abi.CodeRateLimited, "slow down")},
		{Status: 200, Body: []byte{0, 1, 2, '\n', 255}},
	}
	b, err := abi.EncodeBatchReply(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := abi.DecodeBatchReply(b, len(in))
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if out[i].Status != in[i].Status || string(out[i].Body) != string(in[i].Body) ||
			(in[i].Error == nil) != (out[i].Error == nil) || len(out[i].Headers) != len(in[i].Headers) {
			t.Errorf("response %d = %+v, want %+v", i, out[i], in[i])
		}
	}
	if out[2].Error.Code != abi.CodeRateLimited {
		t.Errorf("error code %q, want rate_limited", out[2].Error.Code)
	}
}

// TestBatchReplyFramingErrors: a reply that does not frame exactly the
// responses asked for is an error, never a short or shifted result; a
// refused batch returns the host's error.
func TestBatchReplyFramingErrors(t *testing.T) {
	good, _ := abi.EncodeBatchReply([]abi.HTTPResponse{{Status: 200, Body: []byte("abc")}})
	for name, tc := range map[string]struct {
		reply string
		want  int
		err   string
	}{
		"no head":        {"", 1, "no head"},
		"bad head":       {"{\n", 1, "head"},
		"wrong count":    {string(good), 2, "1 responses for 2 requests"},
		"body overruns":  {`{"responses":[{"status":200,"bodyBytes":9}]}` + "\nabc", 1, "overruns"},
		"negative body":  {`{"responses":[{"status":200,"bodyBytes":-1}]}` + "\n", 1, "overruns"},
		"trailing bytes": {string(good) + "zz", 1, "after the last body"},
	} {
		if _, err := abi.DecodeBatchReply([]byte(tc.reply), tc.want); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.err)
		}
	}
	_, err := abi.DecodeBatchReply(abi.EncodeBatchRefusal(abi.Errorf(abi.CodeInvalidArgument, "no")), 3)
	var refused *abi.Error
	if !errors.As(err, &refused) || refused.Code != abi.CodeInvalidArgument {
		t.Errorf("refusal decoded as %v, want the invalid_argument error", err)
	}
}
