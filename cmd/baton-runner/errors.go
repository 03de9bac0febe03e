package main

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/baton-runner/baton-runner/host/tenant"
	"github.com/baton-runner/baton-runner/internal/rpcerr"
)

// oneSentence reduces err's status chain to its innermost message and code.
// what is dropped from the front of the message when the guest repeats it.
func oneSentence(err error, what string) (string, codes.Code) {
	msg, code := rpcerr.Sentence(err)
	return strings.TrimPrefix(msg, what+": "), code
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
