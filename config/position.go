package config

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Why key lines are found here rather than taken from toml: BurntSushi/toml
// v1.5.0 keeps key positions private. They surface only in the ParseError
// of a failing UnmarshalText, which ends the decode at the first problem
// (the checker reports them all), and they are kept per unindexed key, so
// an error in the first [[tenants]] is placed at the last tenant's line.
// MetaData.Undecoded has no array indexes either. What toml does give is
// MetaData.Keys: every key, already unescaped, in file order. positions
// walks that list, gives each key its array index from the decoded tree,
// and finds its line by searching forward from the previous key.

// positions maps keys, named as the checker names them
// ("tenants[1].sync.interval"), to their 1-based lines.
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
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return r > 0x7f || !isBareChar(byte(r)) }) < 0
}

func isBareChar(c byte) bool {
	return c == '_' || c == '-' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// keyPositions places every key of md, which toml decoded from src into raw.
func keyPositions(src string, md toml.MetaData, raw map[string]any) *positions {
	f := &keyFinder{src: src, lines: map[string]int{}, elem: map[string]int{}, headers: map[string]int{}}
	for _, k := range md.Keys() {
		if len(k) > 0 {
			f.place(k, raw)
		}
	}
	return &positions{lines: f.lines}
}

type keyFinder struct {
	src   string
	at    int            // byte offset after the previous key found
	lines map[string]int // the result
	elem  map[string]int // array key -> index of the element keys now go to
	// headers counts the [[key]] headers seen, by array key.
	headers map[string]int
}

// place records the line of k and of each of its ancestors not yet seen
// (a table is reported where it first appears).
func (f *keyFinder) place(k toml.Key, raw map[string]any) {
	line := f.find(k[len(k)-1])
	key, v := "", any(raw)
	for i, seg := range k {
		key = joinKey(key, seg)
		v = member(v, seg)
		f.set(key, line)
		switch arr := v.(type) {
		case []map[string]any: // [[key]] headers
			n := f.elem[key]
			if i == len(k)-1 { // this key is the header: a new element
				n = f.headers[key]
				f.headers[key]++
			}
			f.elem[key] = n
			key = indexKey(key, n)
			v = nil
			if n < len(arr) {
				v = arr[n]
			}
			f.set(key, line)
		case []any: // key = [ {…}, {…} ]
			if i == len(k)-1 || len(arr) == 0 {
				continue
			}
			n := f.inlineElem(key, arr, k[i+1:])
			key, v = indexKey(key, n), arr[n]
			f.set(key, line)
		}
	}
}

// inlineElem returns the element of the inline array key that rest (a key
// below it) belongs to. Keys() does not mark where one element ends, but
// keys come in file order and TOML forbids a key twice in one table: rest
// starts the next element when the current one does not hold it or has
// had it already.
func (f *keyFinder) inlineElem(key string, arr []any, rest toml.Key) int {
	n := f.elem[key]
	for n < len(arr)-1 {
		sub, v := indexKey(key, n), arr[n]
		for _, seg := range rest {
			sub, v = joinKey(sub, seg), member(v, seg)
		}
		if _, seen := f.lines[sub]; v != nil && !seen {
			break
		}
		n++
	}
	f.elem[key] = n
	return n
}

// member returns v[seg] when v is a table, or nil.
func member(v any, seg string) any {
	if m, ok := v.(map[string]any); ok {
		return m[seg]
	}
	return nil
}

func (f *keyFinder) set(key string, line int) {
	if _, ok := f.lines[key]; !ok {
		f.lines[key] = line
	}
}

// find moves past the next occurrence of seg written as a key (bare or
// quoted, outside strings and comments) and returns its line. A quoted key written
// with escapes does not match its decoded text; it is then taken to be
// the next quoted key. Past a key whose value is a multi-line string, the
// search resumes after the string, whose lines may look like keys.
func (f *keyFinder) find(seg string) int {
	forms := []string{`"` + seg + `"`, `'` + seg + `'`}
	if isBareKey(seg) {
		forms = append(forms, seg)
	}
	best, end := -1, 0
	for _, form := range forms {
		if i := f.keyAt(form); i >= 0 && (best < 0 || i < best) {
			best, end = i, i+len(form)
		}
	}
	if best < 0 {
		for _, q := range []string{`"`, `'`} {
			if i := f.keyAt(q); i >= 0 && (best < 0 || i < best) {
				best = i
			}
		}
		if best < 0 {
			return f.lineOf(f.at)
		}
		end = best + 1 + strings.IndexByte(f.src[best+1:], f.src[best]) + 1
	}
	f.at = end
	rest := strings.TrimLeft(f.src[end:], " \t")
	if v, ok := strings.CutPrefix(rest, "="); ok {
		v = strings.TrimLeft(v, " \t")
		for _, q := range []string{`"""`, `'''`} {
			if strings.HasPrefix(v, q) {
				start := len(f.src) - len(v) + len(q)
				if j := strings.Index(f.src[start:], q); j >= 0 {
					f.at = start + j + len(q)
				}
			}
		}
	}
	return f.lineOf(best)
}

// keyAt returns the offset of the next occurrence of form from f.at that
// stands where a key does: after a line start, [, {, , or . and before
// =, ., ] or (for a quote being looked for on its own) anything; or -1.
func (f *keyFinder) keyAt(form string) int {
	for from := f.at; ; {
		i := strings.Index(f.src[from:], form)
		if i < 0 {
			return -1
		}
		i += from
		from = i + 1
		before := strings.TrimRight(f.src[:i], " \t")
		if before != "" && !strings.ContainsRune("\n[{,.", rune(before[len(before)-1])) {
			continue
		}
		if len(form) > 1 {
			after := strings.TrimLeft(f.src[i+len(form):], " \t")
			if after == "" || !strings.ContainsRune("=.]", rune(after[0])) {
				continue
			}
		}
		if hidden(f.src[strings.LastIndexByte(f.src[:i], '\n')+1 : i]) {
			continue
		}
		return i
	}
}

// hidden says whether what follows prefix, the start of a line, is inside
// a string or a comment.
func hidden(prefix string) bool {
	var quote byte
	for i := 0; i < len(prefix); i++ {
		switch c := prefix[i]; {
		case quote == 0 && c == '#':
			return true
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case c == quote:
			quote = 0
		case c == '\\' && quote == '"':
			i++
		}
	}
	return quote != 0
}

func (f *keyFinder) lineOf(off int) int {
	return 1 + strings.Count(f.src[:off], "\n")
}
