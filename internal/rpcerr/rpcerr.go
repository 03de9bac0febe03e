// Package rpcerr reduces an error that crossed gRPC layers to one sentence
// a person can act on. An error from a guest reaches an operator through
// the guest ABI, the connector's gRPC server, baton-sdk's client and its
// syncer or provisioner, and each layer renders the status below into its
// own message: "rpc error: code = X desc = revoke failed: rpc error: code =
// X desc = baton_revoke: …". Only the innermost message says anything.
package rpcerr

import (
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const layer = "rpc error: code = "

// abiPrefix is a guest call's name (baton_grant: …), an internal name.
var abiPrefix = regexp.MustCompile(`^baton_[a-z_]+: `)

// failedPrefix is a layer that adds only "grant failed: " and the like.
var failedPrefix = regexp.MustCompile(`^[a-z ]+ failed: `)

// Sentence returns the innermost message of err's status chain and its
// code; an error without a status is returned as it is, code Unknown.
func Sentence(err error) (string, codes.Code) {
	if err == nil {
		return "", codes.OK
	}
	st, ok := status.FromError(err)
	if !ok {
		return err.Error(), codes.Unknown
	}
	msg, code := st.Message(), st.Code()
	// A wrapped status's message is the whole error text: start from its
	// innermost layer.
	if i := strings.LastIndex(msg, layer); i >= 0 {
		if name, rest, ok := strings.Cut(msg[i+len(layer):], " desc = "); ok {
			msg = rest
			code = parseCode(name, code)
		}
	}
	for {
		p := failedPrefix.FindString(msg)
		if p == "" {
			break
		}
		msg = msg[len(p):]
	}
	return abiPrefix.ReplaceAllString(msg, ""), code
}

func parseCode(name string, fallback codes.Code) codes.Code {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if c.String() == name {
			return c
		}
	}
	return fallback
}
