//go:build race

package securitytest

// raceEnabled: the race detector slows calls into the host and multiplies
// memory use several times, so bounds measured under it say nothing about
// the product.
const raceEnabled = true
