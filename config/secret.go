package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// secretKind says where a SecretRef's value comes from.
type secretKind uint8

const (
	kindNone    secretKind = iota
	kindEnv                // an environment variable
	kindFile               // a file's contents
	kindLiteral            // the value itself; only for non-secrets such as a client id
)

// maxSecretFileBytes bounds what Resolve reads from a file: a secret is a
// line, and a reference pointed at a large file (or a device) by mistake
// must fail rather than read without end.
const maxSecretFileBytes = 64 << 10

// SecretRef is a reference to a secret: "env:VAR" or "file:/path". It never
// holds a secret's value, so a Config can be logged, compared on reload and
// kept in memory without holding credentials; the value is read by Resolve
// only when needed. A literal SecretRef exists only for settings that are
// not secret but may be given either way (a ConductorOne client id).
//
// The zero SecretRef means "not set". SecretRef values are comparable with ==.
type SecretRef struct {
	kind secretKind
	name string // variable name, absolute file path, or the literal value
}

// EnvRef returns a reference to the environment variable name.
func EnvRef(name string) SecretRef { return SecretRef{kind: kindEnv, name: name} }

// FileRef returns a reference to the file at path; Resolve reads it
// relative to the working directory if path is relative.
func FileRef(path string) SecretRef { return SecretRef{kind: kindFile, name: path} }

// LiteralRef returns a SecretRef that resolves to v itself. It is meant for
// values that are not secret (a client id); secrets must be references.
func LiteralRef(v string) SecretRef { return SecretRef{kind: kindLiteral, name: v} }

// String returns the reference, "env:VAR" or "file:/path", and never a
// value: even a literal shows as "(inline value)", so that printing a
// SecretRef is always safe.
func (r SecretRef) String() string {
	switch r.kind {
	case kindEnv:
		return "env:" + r.name
	case kindFile:
		return "file:" + r.name
	case kindLiteral:
		return "(inline value)"
	}
	return "(unset)"
}

// MarshalText makes encoders (encoding/json, zap's reflection encoder)
// write the reference, as String does, rather than an empty object.
func (r SecretRef) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// GoString makes %#v as safe as %v.
func (r SecretRef) GoString() string { return "config.SecretRef(" + r.String() + ")" }

// Format makes every fmt verb (%v, %+v, %s, %q, %#v) print String, so that
// a Tenant printed whole with %+v does not show a literal's value.
func (r SecretRef) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", r.String())
	case 'v':
		if f.Flag('#') {
			io.WriteString(f, r.GoString())
			return
		}
		io.WriteString(f, r.String())
	default:
		io.WriteString(f, r.String())
	}
}

// Resolve reads the referenced value: the environment variable, or the
// file's contents without one trailing newline (files written by editors
// and by `echo` end in one). An unset variable, an unreadable file and an
// empty value are errors. Errors name the reference and never contain the
// value.
func (r SecretRef) Resolve() (string, error) {
	switch r.kind {
	case kindEnv:
		v, ok := os.LookupEnv(r.name)
		if !ok {
			return "", fmt.Errorf("%s: environment variable %s is not set", r, r.name)
		}
		if v == "" {
			return "", fmt.Errorf("%s: environment variable %s is empty", r, r.name)
		}
		return v, nil
	case kindFile:
		f, err := os.Open(r.name)
		if err != nil {
			return "", fmt.Errorf("%s: %w", r, pathless(err))
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
		if err != nil {
			return "", fmt.Errorf("%s: reading: %w", r, pathless(err))
		}
		if len(b) > maxSecretFileBytes {
			return "", fmt.Errorf("%s: file is larger than %d KiB; a secret file holds only the secret", r, maxSecretFileBytes>>10)
		}
		v := string(b)
		if s, ok := strings.CutSuffix(v, "\n"); ok {
			v = strings.TrimSuffix(s, "\r")
		}
		if v == "" {
			return "", fmt.Errorf("%s: file is empty", r)
		}
		return v, nil
	case kindLiteral:
		if r.name == "" {
			return "", errors.New("inline value is empty")
		}
		return r.name, nil
	}
	return "", errors.New("secret reference is not set")
}

// pathless drops the path from an *os.PathError, since the message already
// starts with the reference that names it.
func pathless(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parseRef interprets a configured string as a reference. dir makes
// relative file paths absolute, so that a reference means the same file
// whatever the daemon's working directory. With allowLiteral false an
// inline value is refused; the message then deliberately does not repeat
// the value, which is most likely a pasted secret.
func parseRef(s, dir string, allowLiteral bool) (SecretRef, string) {
	switch {
	case strings.HasPrefix(s, "env:"):
		name := s[len("env:"):]
		if !envName.MatchString(name) {
			return SecretRef{}, "env: reference needs a variable name of letters, digits and _ not starting with a digit, e.g. env:SEGMENT_TOKEN"
		}
		return EnvRef(name), ""
	case strings.HasPrefix(s, "file:"):
		p := s[len("file:"):]
		if p == "" {
			return SecretRef{}, "file: reference needs a path, e.g. file:/run/secrets/segment-token"
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return FileRef(filepath.Clean(p)), ""
	case allowLiteral:
		if s == "" {
			return SecretRef{}, "must not be empty"
		}
		return LiteralRef(s), ""
	}
	return SecretRef{}, `must be a secret reference, "env:VAR" or "file:/path"; inline secrets are not allowed (the value is not shown here)`
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
