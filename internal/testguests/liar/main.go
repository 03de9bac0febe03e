//go:build wasip1

// Command liar is a test guest that declares its type gettable without
// exporting baton_get_resource: the host must refuse it.
package main

import (
	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/internal/testguests/bare"
)

func init() {
	bare.Register(bare.Connector{Declare: func(rt *abi.ResourceType) { rt.Gettable = true }})
}

func main() {}
