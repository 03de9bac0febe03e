package localca_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/internal/localca"
)

// TestServerVerifiesByItsCAOnly: a client trusting the CA's PEM reaches
// the server under each certified name, and not under another; a client
// trusting another CA of the same name does not reach it at all.
func TestServerVerifiesByItsCAOnly(t *testing.T) {
	ca, err := localca.New("test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Server("api.example.test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	srv.StartTLS()
	defer srv.Close()
	get := func(pemCA []byte, name string) error {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pemCA)
		c := srv.Client()
		c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool, ServerName: name}
		resp, err := c.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for _, name := range []string{"api.example.test", "127.0.0.1"} {
		if err := get(ca.PEM, name); err != nil {
			t.Errorf("as %s: %v", name, err)
		}
	}
	if err := get(ca.PEM, "other.example.test"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("as a name not certified: %v", err)
	}
	other, _ := localca.New("test CA")
	if err := get(other.PEM, "api.example.test"); err == nil {
		t.Error("a client trusting another CA reached the server")
	}
	if _, err := ca.Server(); err == nil {
		t.Error("a server certificate for no host was signed")
	}
}
