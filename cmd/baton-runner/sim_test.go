package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

// serveSim starts `baton-runner sim` with args on a free port and returns
// the base URL it announces, once it is listening.
func serveSim(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"sim", "--addr", "127.0.0.1:0", "--users", "3"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BATON_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childEnv(t)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "Segment simulator on "); ok {
			go func() { _, _ = io.Copy(io.Discard, stderr) }()
			return strings.Fields(rest)[0]
		}
	}
	t.Fatalf("sim %v exited without announcing its address", args)
	return ""
}

func TestSimServesPlainHTTPByDefault(t *testing.T) {
	if url := serveSim(t); !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("sim without --tls-dir announced %s, want http://127.0.0.1:port", url)
	}
}

// A connector that hard-codes https://api.segmentapis.com reaches `sim
// --tls-dir` when its requests for that host are dialled to the simulator
// (--connect-to) and it trusts DIR/ca.pem (--ca-file): this client does
// both, trusting nothing else.
func TestSimTLSServesAsSegmentToClientsTrustingItsCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	url := serveSim(t, "--tls-dir", dir)
	addr, ok := strings.CutPrefix(url, "https://")
	if !ok {
		t.Fatalf("sim --tls-dir announced %s, want https://", url)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatalf("sim --tls-dir wrote no CA: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("ca.pem holds no certificate:\n%s", caPEM)
	}
	get := func(roots *x509.CertPool) (*http.Response, error) {
		tr := &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots},
			DialContext: func(ctx context.Context, network, target string) (net.Conn, error) {
				if target != "api.segmentapis.com:443" {
					return nil, errors.New("dialled " + target + ", not Segment's origin")
				}
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		}
		defer tr.CloseIdleConnections()
		req, err := http.NewRequest(http.MethodGet, "https://api.segmentapis.com/", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+segmentsim.DefaultToken)
		return (&http.Client{Transport: tr}).Do(req)
	}

	resp, err := get(roots)
	if err != nil {
		t.Fatalf("GET / as api.segmentapis.com trusting ca.pem: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"workspace"`) {
		t.Fatalf("GET / as api.segmentapis.com: %d %s, want 200 with the workspace", resp.StatusCode, body)
	}

	// Without ca.pem the certificate must not verify: the trust came from
	// that file, not from a certificate a system root would accept.
	_, err = get(nil)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("GET / trusting only the system roots: %v, want an unknown authority", err)
	}
}
