package segmentsim

import "math/rand/v2"

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// idGen draws realistic, unique identifiers from a deterministic PRNG.
// Uniqueness is enforced (a collision is astronomically unlikely, but a
// duplicate id would silently corrupt lookups, so it costs one map probe).
type idGen struct {
	r    *rand.Rand
	seen map[string]bool
}

func newIDGen(r *rand.Rand) *idGen { return &idGen{r: r, seen: map[string]bool{}} }

func (g *idGen) draw(prefix string, lead string, n int) string {
	for {
		b := make([]byte, 0, len(prefix)+len(lead)+n)
		b = append(b, prefix...)
		b = append(b, lead...)
		for range n {
			b = append(b, base62[g.r.IntN(len(base62))])
		}
		if id := string(b); !g.seen[id] {
			g.seen[id] = true
			return id
		}
	}
}

// base62ID is the 22-character shape of workspace, user, group, source and
// warehouse ids (e.g. 9aQ1Lj62S4bomZKLF4DPqW).
func (g *idGen) base62ID() string { return g.draw("", "", 22) }

// ksuid is the 27-character shape of role and policy ids. Real KSUIDs of the
// current era start with '1' or '2' because the leading bytes are a
// timestamp; '2' keeps them looking recent.
func (g *idGen) ksuid() string { return g.draw("", "2", 26) }

// prefixed is a type-prefixed id such as spa_… or sfnc_… (22 chars after the
// prefix).
func (g *idGen) prefixed(prefix string) string { return g.draw(prefix, "", 22) }
