package egress

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
)

// unreachable says why err is a transport failure that only a different
// base URL (or connect-to address) can fix, and names that setting; it
// returns "" for one that may heal (a timeout, a reset, a refused
// connection once the origin has answered).
//
// A host that does not resolve and a port where nothing listens are taken
// as permanent only until the origin has answered once: before that (the
// credential check at the start of every sync) they are typos in the base
// URL, and retrying them held a sync for 24 s of silence; after it, they
// are the API restarting or a resolver's hiccup. A TLS handshake that
// fails, on the protocol or on the certificate, fails the same way every
// time.
func (c *Client) unreachable(err error) (why, setting string) {
	host, name, setting := c.origin.hostport, c.origin.host, c.setting
	if ct := c.dialer.connect; ct != nil {
		// The operator's address: its faults are fixed where it is set.
		host = fmt.Sprintf("%s (the connect-to address of %s)", ct, c.origin)
		name, setting = host, c.connectSetting
	}
	var dnsErr *net.DNSError
	var recordErr tls.RecordHeaderError
	var alert tls.AlertError
	var unknownCA x509.UnknownAuthorityError
	var wrongHost x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	answered := c.answered.Load()
	switch {
	case !answered && errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Sprintf("the host %s does not exist (DNS: no such host)", name), setting
	case !answered && errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing accepts connections at %s (connection refused)", host), setting
	case errors.Is(err, http.ErrSchemeMismatch), errors.As(err, &recordErr):
		return fmt.Sprintf("%s does not speak TLS (is it a plain-HTTP server, meant as http://, or the wrong port?)", host), setting
	case errors.As(err, &unknownCA), errors.As(err, &wrongHost), errors.As(err, &invalid), errors.As(err, &verify):
		if c.dialer.connect != nil {
			setting += " and the CA bundle given for it"
		}
		return fmt.Sprintf("the TLS certificate of %s does not verify: %v", host, err), setting
	case errors.As(err, &alert):
		return fmt.Sprintf("%s refused the TLS handshake: %v", host, err), setting
	}
	return "", ""
}
