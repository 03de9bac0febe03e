package egress

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/baton-runner/baton-runner/host/secret"
)

// connectTo is Config.ConnectTo: the address dialed for the origin.
type connectTo struct {
	host, port string
	literal    netip.Addr // valid when host is an IP literal
}

func (t *connectTo) String() string { return net.JoinHostPort(t.host, t.port) }

// ConnectToError is a Config.ConnectTo that New refuses.
type ConnectToError struct {
	// Setting is Config.ConnectToSetting; "" says "connect-to address".
	Setting string
	// Shown is the address as the operator typed it, or its length when
	// it does not read as host:port.
	Shown string
	// Problem says what is wrong and how to fix it.
	Problem string
}

func (e *ConnectToError) Error() string {
	setting := e.Setting
	if setting == "" {
		setting = "connect-to address"
	}
	return fmt.Sprintf("%s %s %s", setting, e.Shown, e.Problem)
}

// CheckConnectTo applies the rules New applies to Config.ConnectTo, for
// callers that validate configuration before building a client. A
// refusal is a *ConnectToError.
func CheckConnectTo(raw string) error {
	_, err := parseConnectTo(raw)
	return err
}

func parseConnectTo(raw string) (*connectTo, error) {
	const want = "want host:port, e.g. 127.0.0.1:8443 or fake-api:443"
	refuse := func(format string, args ...any) (*connectTo, error) {
		return nil, &ConnectToError{Shown: showAddress(raw), Problem: fmt.Sprintf(format, args...)}
	}
	if strings.Contains(raw, "://") {
		u, _ := url.Parse(raw)
		return nil, &ConnectToError{Shown: strconv.Quote(echo(raw, u, secret.Secret{})), Problem: "is a URL; give only host:port (the request keeps the origin's scheme, host name and certificate check)"}
	}
	host, port, err := net.SplitHostPort(raw)
	if err != nil {
		return refuse("is not host:port; %s", want)
	}
	if host == "" {
		return refuse("has no host; %s", want)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return refuse("has port %q, out of range 1-65535", port)
	}
	t := &connectTo{host: strings.ToLower(host), port: port}
	if a, err := netip.ParseAddr(host); err == nil {
		t.literal = a
		return t, nil
	}
	for l := range strings.SplitSeq(host, ".") {
		if !hostLabel.MatchString(l) {
			return refuse("has host %q, which is neither an IP address nor a host name; %s", host, want)
		}
	}
	return t, nil
}

// showAddress quotes raw for an error when it reads as an address; a
// string that does not (a token pasted into the wrong setting) is shown
// by its length.
func showAddress(raw string) string {
	if len(raw) <= 300 && strings.ContainsAny(raw, ".:") && strings.Trim(raw, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:-[]%_") == "" {
		return strconv.Quote(raw)
	}
	return fmt.Sprintf("(%d characters, not shown in case they are a credential)", len(raw))
}

// LoadCABundle returns the system's root certificates plus those of the
// PEM file at path: the roots (Config.RootCAs) for an endpoint whose
// certificate an operator's own CA signed, a fake or a staging API.
func LoadCABundle(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the CA bundle: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		return nil, fmt.Errorf("CA bundle %s: loading the system's root certificates to add it to: %w", path, err)
	}
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("CA bundle %s: PEM block %d is a %q, not a CERTIFICATE; the bundle must hold only the CA's certificates (never a key)", path, n, logSafe(block.Type))
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA bundle %s: certificate %d does not parse: %w", path, n, err)
		}
		pool.AddCert(cert)
	}
	if n > 0 {
		return pool, nil
	}
	if _, err := x509.ParseCertificate(data); err == nil {
		return nil, fmt.Errorf("CA bundle %s is a DER certificate; convert it to PEM (openssl x509 -inform der -in %s -out ca.pem)", path, path)
	}
	return nil, errors.New("CA bundle " + path + " holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the PEM file of the CA that signed the endpoint's certificate")
}
