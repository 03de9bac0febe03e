package egress

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/baton-runner/baton-runner/host/secret"
)

// Record is one audit entry: one per guest request (written after all
// retries and waits) and one per refused request.
//
// It never contains header values, bodies, the token, secret values or
// the query string (queries can carry e-mail addresses): it says who was called and how it
// went, not with what.
type Record struct {
	Time     time.Time // when Do started
	Method   string
	Host     string // host:port of the origin (of the one the guest named, when it is refused)
	Path     string // path without query or fragment
	Status   int    // last upstream status; 0 if no response
	Bytes    int64  // response body bytes read
	Duration time.Duration
	Attempts int // HTTP attempts made, including retries
	// RateLimitWait is the time this request waited on 429 responses, a
	// used-up window and pacing. Requests held together each count the
	// same seconds: the tenant's wall time held is Config.OnHeld's.
	RateLimitWait time.Duration
	// Secrets is the number of secret placeholders replaced by their
	// values in the request (Config.Secrets).
	Secrets int
	// Denied is the reason when the egress rules refused the request.
	Denied string
	// Error describes any other failure; the token is scrubbed from it.
	Error string
}

// maxAuditField bounds guest-controlled strings in a Record.
const maxAuditField = 256

// auditPath returns p without query or fragment, bounded and free of
// control characters so a hostile guest cannot forge log lines.
func auditPath(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	return logSafe(p)
}

// logSafe truncates s and replaces control characters and invalid UTF-8.
func logSafe(s string) string {
	if len(s) > maxAuditField {
		s = s[:maxAuditField]
		for !utf8.ValidString(s) && len(s) > maxAuditField-utf8.UTFMax {
			s = s[:len(s)-1]
		}
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, s)
}

// scrub removes the token from a message bound for the guest or the audit
// log. Messages are built without it, but net/http and resolvers format
// their own errors, so this is the last line of defence.
func scrub(msg string, tok secret.Secret) string {
	if t := tok.Reveal(); t != "" {
		msg = strings.ReplaceAll(msg, t, secret.Redacted)
	}
	return msg
}

// WaitKind says what a wait is for.
type WaitKind int

// The kinds of wait.
const (
	// WaitPacing spaces requests to requests_per_minute or the API's
	// write rate.
	WaitPacing WaitKind = iota
	// WaitRateLimit waits out a 429 or a used-up rate-limit window.
	WaitRateLimit
	// WaitRetry backs off before retrying a failed attempt (a transport
	// error, a 5xx).
	WaitRetry
)

// Wait describes a wait the client is about to make for a request.
type Wait struct {
	Kind         WaitKind
	Method, Path string
	// Reason says why: pacing, a 429, or a retry and what it retries.
	Reason string
	Wait   time.Duration
	// Attempt is the number of attempts made so far; AttemptTook how long
	// the last one took (a DNS or connect timeout shows here).
	Attempt     int
	AttemptTook time.Duration
}

// NotableWait is how long a tenant's requests may be held up, by one wait
// or by many in a row, before it is worth a log line: shorter holds are
// routine pacing and retries.
const NotableWait = 3 * time.Second
