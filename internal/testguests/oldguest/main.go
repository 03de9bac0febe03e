//go:build wasip1

// Command oldguest is a test guest with only the five listing exports and
// no lifecycle declarations: it must compile and sync as before.
package main

import "github.com/baton-runner/baton-runner/internal/testguests/bare"

func init() { bare.Register(bare.Connector{}) }

func main() {}
