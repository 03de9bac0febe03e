//go:build race

package securitytest

// raceEnabled: the race detector multiplies memory use several times, so
// memory bounds measured under it say nothing about the product.
const raceEnabled = true
