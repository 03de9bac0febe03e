package sandbox

// countJSONValues counts the values in the JSON document b as a decoder
// would meet them: objects, arrays, strings (object keys included),
// numbers and literals. It stops as soon as the count passes limit and
// reports whether it did. It neither validates nor allocates: a single
// pass over bytes the host already holds, so the host can refuse a
// document before paying to decode it (the decoders that follow pay per
// value, roughly 100 bytes or more of Go heap for each `{}` in a list,
// against 3 bytes of output). Malformed JSON is left for the decoder to
// refuse.
func countJSONValues(b []byte, limit int) (int, bool) {
	n := 0
	inString, escaped, inScalar := false, false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			n++
			inString, inScalar = true, false
		case '{', '[':
			n++
			inScalar = false
		case '}', ']', ',', ':', ' ', '\t', '\n', '\r':
			inScalar = false
		default:
			// The first byte of a number or literal.
			if !inScalar {
				n++
				inScalar = true
			}
		}
		if n > limit {
			return n, true
		}
	}
	return n, false
}
