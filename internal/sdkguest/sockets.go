package sdkguest

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// noSockets is the connection to the guest, saying why when a connector
// failed to open a socket of its own. A guest has none: HTTP(S) reaches
// the host's egress through the kit's proxy, and anything else (LDAP, a
// SQL driver, a transport built without a proxy) dials Go's in-process
// wasip1 network and is refused at once. Go's own error for that
// ("dial tcp 10.0.0.1:389: connect: connection refused", a DNS lookup on
// [::1]:53) reads like a network fault, which it is not.
type noSockets struct{ grpc.ClientConnInterface }

func (c noSockets) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	return withSocketHint(c.ClientConnInterface.Invoke(ctx, method, args, reply, opts...))
}

const socketHint = " (the connector opened a socket of its own, which a baton-runner guest cannot: " +
	"only HTTP(S) through net/http or uhttp, honouring HTTPS_PROXY, reaches the network; docs/ABI.md, \"The guest's network\")"

func withSocketHint(err error) error {
	st, ok := status.FromError(err)
	if !ok || err == nil {
		return err
	}
	msg := st.Message()
	if !strings.Contains(msg, "dial tcp ") && !strings.Contains(msg, "dial udp ") || strings.Contains(msg, socketHint) {
		return err
	}
	p := st.Proto()
	p.Message = msg + socketHint
	return status.FromProto(p).Err()
}
