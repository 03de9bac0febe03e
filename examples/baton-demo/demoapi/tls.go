package demoapi

import (
	"crypto/tls"
	"fmt"

	"github.com/baton-runner/baton-runner/internal/localca"
)

// DefaultCertHosts are the names and addresses NewCerts certifies when
// given none: the two hosts the API answers for, and the loopback names a
// native client dials.
var DefaultCertHosts = []string{DefaultAPIHost, DefaultAuthHost, "127.0.0.1", "localhost"}

// Certs are a throwaway CA and a server certificate it signed, so a
// client can verify the API over real TLS by trusting CAPEM (through
// SSL_CERT_FILE, or a --ca-file) instead of skipping verification.
type Certs struct {
	CAPEM  []byte
	Server tls.Certificate
}

// NewCerts makes a CA and a server certificate for hosts (names or IP
// addresses), valid for a day; no hosts means DefaultCertHosts.
func NewCerts(hosts ...string) (*Certs, error) {
	if len(hosts) == 0 {
		hosts = DefaultCertHosts
	}
	ca, err := localca.New("demoapi test CA")
	if err != nil {
		return nil, fmt.Errorf("demoapi: %w", err)
	}
	leaf, err := ca.Server(hosts...)
	if err != nil {
		return nil, fmt.Errorf("demoapi: %w", err)
	}
	return &Certs{CAPEM: ca.PEM, Server: leaf}, nil
}

// ServerConfig is the TLS configuration of a listener serving the API.
func (c *Certs) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.Server}, MinVersion: tls.VersionTLS12}
}
