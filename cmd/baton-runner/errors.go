package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/baton-runner/baton-runner/host/tenant"
)

// rpcLayer is one layer of a gRPC status rendered as text, as errors pass
// through baton-sdk's connector client and the guest ABI: each layer repeats
// the code and wraps the message below.
var rpcLayer = regexp.MustCompile(`^(?:[a-z ]+ failed: )?rpc error: code = (\w+) desc = `)

// abiPrefix is the guest call's name (baton_grant: …): an internal, not a
// thing a user can act on.
var abiPrefix = regexp.MustCompile(`^baton_[a-z_]+: `)

// failedPrefix is a layer that adds only "grant failed: " and the like.
var failedPrefix = regexp.MustCompile(`^[a-z ]+ failed: `)

// oneSentence reduces err's status chain to its innermost message and code.
// what is dropped from the front of the message when the guest repeats it.
func oneSentence(err error, what string) (string, codes.Code) {
	st, ok := status.FromError(err)
	if !ok {
		return err.Error(), codes.Unknown
	}
	msg, code := st.Message(), st.Code()
	for {
		m := rpcLayer.FindStringSubmatch(msg)
		if m == nil {
			m2 := failedPrefix.FindString(msg)
			if m2 == "" {
				break
			}
			msg = msg[len(m2):]
			continue
		}
		msg = msg[len(m[0]):]
		for c := codes.OK; c <= codes.Unauthenticated; c++ {
			if c.String() == m[1] {
				code = c
			}
		}
	}
	msg = abiPrefix.ReplaceAllString(msg, "")
	msg = strings.TrimPrefix(msg, what+": ")
	return msg, code
}

// explainLookup says what was not found in the c1z and which explorer
// command lists the right IDs.
func explainLookup(what, file string, le *tenant.LookupError) error {
	var hint string
	switch le.Part {
	case "entitlement":
		hint = fmt.Sprintf("list entitlement IDs with `baton-runner inspect entitlements -f %s` (narrow with --resource-type or --resource)", file)
	case "principal":
		typ, _, _ := strings.Cut(le.ID, ":")
		hint = fmt.Sprintf("find principal IDs with `baton-runner inspect resources -f %s --resource-type %s`", file, typ)
	default:
		hint = fmt.Sprintf("list grant IDs with `baton-runner inspect grants -f %s --principal TYPE:ID` or `--entitlement ID`", file)
	}
	if le.Malformed == "" {
		hint += "; if it was created since that sync, run `baton-runner sync` first"
	}
	return fmt.Errorf("%s: %v; %s", what, le, hint)
}

func asLookup(err error) (*tenant.LookupError, bool) {
	var le *tenant.LookupError
	ok := errors.As(err, &le)
	return le, ok
}
