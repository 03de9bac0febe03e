package fakec1

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

const (
	tokenPath     = "/auth/v1/token"
	assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// clockSkew tolerates the gap between the client's clock and ours; both
	// are this machine, so it only has to cover processing time.
	clockSkew = 30 * time.Second
)

var b64 = base64.RawURLEncoding

// encodeClientSecret renders priv as a ConductorOne v1 client secret: the
// base64url (unpadded) JSON Web Key of the Ed25519 private key (RFC 8037 OKP
// form), behind the "secret-token:conductorone.com:v1:" prefix the SDK's
// crypto.ParseClientSecret splits on.
func encodeClientSecret(priv ed25519.PrivateKey) string {
	jwk, err := json.Marshal(map[string]string{
		"kty": "OKP",
		"crv": "Ed25519",
		"x":   b64.EncodeToString(priv.Public().(ed25519.PublicKey)),
		"d":   b64.EncodeToString(priv.Seed()),
	})
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return "secret-token:conductorone.com:v1:" + b64.EncodeToString(jwk)
}

// assertionClaims are the JWT claims the SDK's c1TokenSource sends.
type assertionClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  audience `json:"aud"`
	Expiry    *int64   `json:"exp"`
	NotBefore *int64   `json:"nbf,omitempty"`
	IssuedAt  *int64   `json:"iat,omitempty"`
}

// audience accepts both JWT encodings of "aud": go-jose writes a single
// audience as a bare string and several as an array.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("aud is neither a string nor a list of strings")
	}
	*a = many
	return nil
}

// signAssertion builds a compact EdDSA JWS over claims, the way a client
// would. Tests use it to forge assertions the SDK would never send.
func signAssertion(priv ed25519.PrivateKey, claims any) (string, error) {
	header, err := json.Marshal(map[string]string{"alg": "EdDSA"})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signingInput := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	return signingInput + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(signingInput))), nil
}

// verifyAssertion checks a client assertion the way the real token endpoint
// must: an EdDSA signature by the registered key, iss == sub == client_id,
// aud == the API host without port, and a live validity window. It is done
// with the standard library rather than go-jose so the fake checks the wire
// format independently of the library the SDK signs with.
func verifyAssertion(token string, pub ed25519.PublicKey, clientID, aud string, now time.Time) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("client_assertion is not a compact JWS")
	}
	headerJSON, err := b64.DecodeString(parts[0])
	if err != nil {
		return fmt.Errorf("decoding JWS header: %w", err)
	}
	var header struct {
		Alg  string   `json:"alg"`
		Crit []string `json:"crit"`
	}
	if err := json.Unmarshal(headerJSON, &header); err != nil {
		return fmt.Errorf("parsing JWS header: %w", err)
	}
	if header.Alg != "EdDSA" {
		return fmt.Errorf("JWS alg is %q, want EdDSA", header.Alg)
	}
	if len(header.Crit) > 0 {
		return fmt.Errorf("JWS has unsupported critical headers %v", header.Crit)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("decoding JWS signature: %w", err)
	}
	if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		return errors.New("JWS signature does not verify with the registered client key")
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("decoding JWT claims: %w", err)
	}
	var c assertionClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("parsing JWT claims: %w", err)
	}
	switch {
	case c.Issuer != clientID:
		return fmt.Errorf("iss is %q, want client id %q", c.Issuer, clientID)
	case c.Subject != clientID:
		return fmt.Errorf("sub is %q, want client id %q", c.Subject, clientID)
	case len(c.Audience) != 1 || c.Audience[0] != aud:
		return fmt.Errorf("aud is %q, want [%q]", []string(c.Audience), aud)
	case c.Expiry == nil:
		return errors.New("exp is missing")
	case time.Unix(*c.Expiry, 0).Before(now.Add(-clockSkew)):
		return fmt.Errorf("assertion expired at %s", time.Unix(*c.Expiry, 0).UTC())
	case c.NotBefore != nil && time.Unix(*c.NotBefore, 0).After(now.Add(clockSkew)):
		return fmt.Errorf("assertion not valid before %s", time.Unix(*c.NotBefore, 0).UTC())
	}
	return nil
}

// handleToken is the OAuth client-credentials endpoint with a JWT-bearer
// client assertion (RFC 7523), as c1TokenSource speaks it.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()

	if err := s.checkTokenRequest(r); err != nil {
		s.recordErr("token request rejected: %v", err)
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"error":             "invalid_client",
			"error_description": err.Error(),
		})
		return
	}

	tok := make([]byte, 24)
	_, _ = rand.Read(tok)
	access := hex.EncodeToString(tok)
	s.mu.Lock()
	s.tokens[access] = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"expires_in":   3600,
	})
}

func (s *Server) checkTokenRequest(r *http.Request) error {
	if r.Method != http.MethodPost {
		return fmt.Errorf("method %s, want POST", r.Method)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return fmt.Errorf("content type %q, want application/x-www-form-urlencoded", ct)
	}
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("parsing form: %w", err)
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "client_credentials":
		return fmt.Errorf("grant_type %q, want client_credentials", f.Get("grant_type"))
	case f.Get("client_assertion_type") != assertionType:
		return fmt.Errorf("client_assertion_type %q, want %q", f.Get("client_assertion_type"), assertionType)
	case f.Get("client_id") != s.clientID:
		return fmt.Errorf("unknown client_id %q", f.Get("client_id"))
	}
	return verifyAssertion(f.Get("client_assertion"), s.clientPub, s.clientID, s.audience, time.Now())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
