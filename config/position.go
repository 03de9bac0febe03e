package config

import (
	"strconv"
	"strings"
)

// BurntSushi/toml v1.5.0 records key positions only internally (its
// MetaData has no position accessor), and its Undecoded keys carry no array
// index, so "tenants.tokn" could be in any tenant. positions therefore
// re-reads the file, which toml has already accepted, and records the line
// of every key under the same indexed name the checker uses
// ("tenants[1].sync.interval"). It is a reader for valid TOML only, kept
// lenient: on anything unexpected it skips ahead, and every loop advances,
// so it terminates on any input.
type positions struct {
	lines map[string]int
}

// line returns the line of key, or of its nearest ancestor present in the
// file, or 0.
func (p *positions) line(key string) int {
	if p == nil {
		return 0
	}
	for key != "" {
		if l, ok := p.lines[key]; ok {
			return l
		}
		key = parentKey(key)
	}
	return 0
}

// parentKey strips the last ".seg" or "[i]" from a key built by joinKey and
// indexKey.
func parentKey(key string) string {
	cut, inQuote := -1, false
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case (c == '.' || c == '[') && !inQuote:
			cut = i
		}
	}
	if cut < 0 {
		return ""
	}
	return key[:cut]
}

// joinKey appends one key segment, quoted when it is not a bare TOML key,
// so that a key name is unambiguous in messages and in lookups.
func joinKey(parent, seg string) string {
	if !isBareKey(seg) {
		seg = strconv.Quote(seg)
	}
	if parent == "" {
		return seg
	}
	return parent + "." + seg
}

func indexKey(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBareChar(s[i]) {
			return false
		}
	}
	return true
}

func isBareChar(c byte) bool {
	return c == '_' || c == '-' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// scanPositions reads the key lines of src, which toml has parsed.
func scanPositions(src []byte) *positions {
	s := &posScanner{src: src, line: 1, lines: map[string]int{}, arrays: map[string]int{}}
	s.run()
	return &positions{lines: s.lines}
}

type posScanner struct {
	src    []byte
	i      int
	line   int
	lines  map[string]int
	arrays map[string]int // array-of-tables key -> elements seen so far
	table  string         // key of the current [table] or [[array]] element
}

func (s *posScanner) eof() bool { return s.i >= len(s.src) }

func (s *posScanner) peek(off int) byte {
	if s.i+off < len(s.src) {
		return s.src[s.i+off]
	}
	return 0
}

func (s *posScanner) advance() {
	if s.src[s.i] == '\n' {
		s.line++
	}
	s.i++
}

// set records the first line a key appears on: a table split over several
// headers or dotted keys is reported where it starts.
func (s *posScanner) set(key string, line int) {
	if _, ok := s.lines[key]; !ok && key != "" {
		s.lines[key] = line
	}
}

func (s *posScanner) skipBlank() {
	for !s.eof() {
		switch s.src[s.i] {
		case ' ', '\t', '\r':
			s.advance()
		default:
			return
		}
	}
}

// skipSpace skips blanks, newlines and comments.
func (s *posScanner) skipSpace() {
	for !s.eof() {
		switch s.src[s.i] {
		case ' ', '\t', '\r', '\n':
			s.advance()
		case '#':
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine moves to the newline ending the current line.
func (s *posScanner) skipLine() {
	for !s.eof() && s.src[s.i] != '\n' {
		s.advance()
	}
}

func (s *posScanner) run() {
	for {
		s.skipSpace()
		if s.eof() {
			return
		}
		start := s.i
		if s.src[s.i] == '[' {
			s.header()
		} else {
			s.keyValue(s.table, true)
		}
		if s.i == start { // not something this reader understands
			s.skipLine()
		}
		if !s.eof() && s.src[s.i] != '\n' {
			s.skipLine()
		}
	}
}

// header reads "[a.b]" or "[[a.b]]".
func (s *posScanner) header() {
	line := s.line
	s.advance()
	array := s.peek(0) == '['
	if array {
		s.advance()
	}
	segs := s.keyPath()
	if len(segs) == 0 {
		return
	}
	if !array {
		s.table = s.resolve("", segs, line)
		return
	}
	key := s.resolve("", segs[:len(segs)-1], line)
	key = joinKey(key, segs[len(segs)-1])
	n := s.arrays[key]
	s.arrays[key] = n + 1
	s.set(key, line)
	s.table = indexKey(key, n)
	s.set(s.table, line)
}

// resolve turns key segments under base into a key, descending into the
// last element of any array of tables on the way (that is what a header
// such as [tenants.sync] after [[tenants]] means), and records every
// intermediate key's line.
func (s *posScanner) resolve(base string, segs []string, line int) string {
	key := base
	for _, seg := range segs {
		key = joinKey(key, seg)
		s.set(key, line)
		if n := s.arrays[key]; n > 0 {
			key = indexKey(key, n-1)
		}
	}
	return key
}

// keyValue reads "a.b = value"; top says the pair is a statement of its
// own (under the current table) rather than inside an inline table, where
// array-of-tables lookups do not apply.
func (s *posScanner) keyValue(base string, top bool) {
	line := s.line
	segs := s.keyPath()
	if len(segs) == 0 || s.peek(0) != '=' {
		return
	}
	s.advance()
	var key string
	if top {
		key = s.resolve(base, segs, line)
	} else {
		key = base
		for _, seg := range segs {
			key = joinKey(key, seg)
			s.set(key, line)
		}
	}
	s.skipBlank()
	s.value(key)
}

// keyPath reads dotted key segments and the blanks after them.
func (s *posScanner) keyPath() []string {
	var segs []string
	for {
		s.skipBlank()
		seg, ok := s.keySegment()
		if !ok {
			return segs
		}
		segs = append(segs, seg)
		s.skipBlank()
		if s.peek(0) != '.' {
			return segs
		}
		s.advance()
	}
}

func (s *posScanner) keySegment() (string, bool) {
	switch c := s.peek(0); {
	case c == '"':
		raw := s.basicString()
		return unescapeBasic(strings.TrimSuffix(strings.TrimPrefix(raw, `"`), `"`)), true
	case c == '\'':
		raw := s.literalString()
		return strings.Trim(raw, "'"), true
	case isBareChar(c) && !s.eof():
		start := s.i
		for !s.eof() && isBareChar(s.src[s.i]) {
			s.advance()
		}
		return string(s.src[start:s.i]), true
	}
	return "", false
}

// basicString reads a one-line "..." string and returns it with quotes.
func (s *posScanner) basicString() string {
	start := s.i
	s.advance()
	for !s.eof() {
		switch s.src[s.i] {
		case '\\':
			s.advance()
			if !s.eof() {
				s.advance()
			}
		case '"':
			s.advance()
			return string(s.src[start:s.i])
		case '\n':
			return string(s.src[start:s.i])
		default:
			s.advance()
		}
	}
	return string(s.src[start:s.i])
}

// literalString reads a one-line '...' string and returns it with quotes.
func (s *posScanner) literalString() string {
	start := s.i
	s.advance()
	for !s.eof() {
		switch s.src[s.i] {
		case '\'':
			s.advance()
			return string(s.src[start:s.i])
		case '\n':
			return string(s.src[start:s.i])
		default:
			s.advance()
		}
	}
	return string(s.src[start:s.i])
}

// multiline skips a multi-line string, opened and closed by three delim
// characters.
func (s *posScanner) multiline(delim byte) {
	s.i += 3 // the opening quotes hold no newline
	for !s.eof() {
		c := s.src[s.i]
		if c == '\\' && delim == '"' {
			s.advance()
			if !s.eof() {
				s.advance()
			}
			continue
		}
		if c == delim && s.peek(1) == delim && s.peek(2) == delim {
			s.i += 3
			// Up to two more quotes belong to the content ("""a"""" ends in a quote).
			for k := 0; k < 2 && s.peek(0) == delim; k++ {
				s.i++
			}
			return
		}
		s.advance()
	}
}

// value skips one value, recording the keys inside arrays and inline
// tables under key.
func (s *posScanner) value(key string) {
	switch c := s.peek(0); {
	case s.eof():
	case c == '"' || c == '\'':
		if s.peek(1) == c && s.peek(2) == c {
			s.multiline(c)
		} else if c == '"' {
			s.basicString()
		} else {
			s.literalString()
		}
	case c == '[':
		s.advance()
		for n := 0; ; n++ {
			s.skipSpace()
			if s.eof() || s.peek(0) == ']' {
				break
			}
			start := s.i
			elem := indexKey(key, n)
			s.set(elem, s.line)
			s.value(elem)
			s.skipSpace()
			if s.peek(0) == ',' {
				s.advance()
			} else if s.i == start {
				break
			}
		}
		if s.peek(0) == ']' {
			s.advance()
		}
	case c == '{':
		s.advance()
		for {
			s.skipSpace()
			if s.eof() || s.peek(0) == '}' {
				break
			}
			start := s.i
			s.keyValue(key, false)
			s.skipSpace()
			if s.peek(0) == ',' {
				s.advance()
			} else if s.i == start {
				break
			}
		}
		if s.peek(0) == '}' {
			s.advance()
		}
	default: // number, boolean, date: up to a delimiter (dates may hold a space)
		for !s.eof() {
			switch s.src[s.i] {
			case ',', ']', '}', '#', '\n', '\r':
				return
			}
			s.advance()
		}
	}
}

// unescapeBasic decodes the escapes of a TOML basic string as toml does
// (including TOML 1.1's \e and \xHH, which v1.5.0 accepts when
// BURNTSUSHI_TOML_110 is set), so that quoted keys are recorded under the
// names toml decoded. strconv.Unquote would differ: its \xHH is a byte,
// TOML's a code point.
func unescapeBasic(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch c := s[i]; c {
		case 'b':
			b.WriteByte('\b')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case 'e':
			b.WriteByte(0x1b)
		case 'x', 'u', 'U':
			n := 2
			if c == 'u' {
				n = 4
			} else if c == 'U' {
				n = 8
			}
			if i+n < len(s) {
				if r, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32); err == nil {
					b.WriteRune(rune(r))
					i += n
					continue
				}
			}
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
