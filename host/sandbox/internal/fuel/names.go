package fuel

// Subsections of the "name" custom section that the rewrite keeps.
const (
	namesModule    = 0
	namesFunctions = 1
	namesLocals    = 2
)

// names returns a "name" section with its functions renumbered, so a
// trap's stack trace still names the guest's functions. Other custom
// sections are dropped (ok false): wazero parses some of them (DWARF)
// and no guest needs them to run. The section only labels traces, so
// one that cannot be read is dropped too, not a reason to refuse the
// module; so are its subsections other than the module's, the functions'
// and the locals' names.
func (m *module) names(r reader) (out []byte, ok bool) {
	if r.name() != "name" || !r.ok() {
		return nil, false
	}
	out = append(out, r.b[:r.p]...)
	for !r.done() {
		id := r.byte()
		sr := r.sub(int(r.u32()))
		var sub []byte
		switch id {
		case namesModule:
			sr.name()
			sub = sr.b[:sr.p]
		case namesFunctions:
			n := sr.count(2)
			sub = appendU32(nil, n)
			for range n {
				sub = appendU32(sub, m.fn(&sr, sr.u32()))
				sub = appendName(sub, sr.name())
			}
		case namesLocals:
			n := sr.count(2)
			sub = appendU32(nil, n)
			for range n {
				sub = appendU32(sub, m.fn(&sr, sr.u32()))
				start := sr.p
				for range sr.count(2) {
					sr.u32()
					sr.name()
				}
				sub = append(sub, sr.b[start:sr.p]...)
			}
		default:
			continue
		}
		if !r.ok() || !sr.ok() || !sr.done() {
			return nil, false
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(sub)))
		out = append(out, sub...)
	}
	return out, r.ok()
}
