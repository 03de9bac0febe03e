// Package jsonscan holds the primitives of the guest's hand-written JSON
// readers (package guest's listing requests, the Segment connector's user
// documents): JSON by reflection is the guest's main cost in WebAssembly.
// A reader that meets anything these primitives refuse falls back to
// encoding/json, so they only need to be right, not complete.
package jsonscan

import "unicode/utf8"

// Scanner reads B from position P.
type Scanner struct {
	B []byte
	P int
}

// Space skips whitespace.
func (s *Scanner) Space() {
	for s.P < len(s.B) {
		switch s.B[s.P] {
		case ' ', '\t', '\n', '\r':
			s.P++
		default:
			return
		}
	}
}

// Consume skips whitespace and then c, reporting whether c was there.
func (s *Scanner) Consume(c byte) bool {
	s.Space()
	if s.P < len(s.B) && s.B[s.P] == c {
		s.P++
		return true
	}
	return false
}

// End reports whether only whitespace is left.
func (s *Scanner) End() bool {
	s.Space()
	return s.P == len(s.B)
}

// Null consumes a null literal if one comes next.
func (s *Scanner) Null() bool {
	s.Space()
	if len(s.B)-s.P >= 4 && string(s.B[s.P:s.P+4]) == "null" {
		s.P += 4
		return true
	}
	return false
}

// RawString reads a string without escapes or control characters, of
// valid UTF-8.
func (s *Scanner) RawString() (string, bool) {
	if !s.Consume('"') {
		return "", false
	}
	start := s.P
	ascii := true
	for s.P < len(s.B) {
		switch c := s.B[s.P]; {
		case c == '"':
			v := s.B[start:s.P]
			s.P++
			if !ascii && !utf8.Valid(v) {
				return "", false
			}
			return string(v), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.P++
	}
	return "", false
}
