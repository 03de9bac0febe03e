// Package secret holds credentials in a type that never prints: the API
// token egress injects and the ConductorOne client secret the service mode
// sends are both a Secret from the moment the runner reads them (flags, or
// a config.SecretRef resolved) until the one call that sends them.
package secret

import (
	"fmt"
	"io"
	"log/slog"
)

// Redacted is what every printing and encoding path yields for a Secret.
const Redacted = "[REDACTED]"

// Secret holds a credential that must never be printed or serialised. Every
// formatting and encoding path (fmt verbs, JSON, text, slog) yields
// "[REDACTED]"; only Reveal returns the value.
//
// The value sits behind a pointer on purpose: when a Secret is an unexported
// field of some struct, fmt prints it by reflection without calling its
// methods, and a nested pointer prints as an address, not as the string.
type Secret struct {
	p *string
}

// New wraps s. An empty s gives the zero Secret.
func New(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{p: &s}
}

// Reveal returns the secret value. Call it only where the value is sent.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether s holds no value.
func (s Secret) IsZero() bool { return s.p == nil || *s.p == "" }

// String returns "[REDACTED]".
func (Secret) String() string { return Redacted }

// GoString returns "[REDACTED]", so %#v does not print the value either.
func (Secret) GoString() string { return Redacted }

// Format writes "[REDACTED]" for every verb, including %x and %q, which
// would otherwise bypass String.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, Redacted) }

// MarshalJSON returns the JSON string "[REDACTED]".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText returns "[REDACTED]".
func (Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue returns "[REDACTED]" for log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }
