// Command wasm is the demo connector as a baton-runner guest: the same
// pkg/connector that cmd/baton-demo runs with baton-sdk's runner, handed
// to the guest kit instead. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o demo.wasm .
package main

import (
	"github.com/baton-runner/baton-runner/guest/batonsdk"

	cfg "github.com/baton-runner/baton-runner/examples/baton-demo/pkg/config"
	"github.com/baton-runner/baton-runner/examples/baton-demo/pkg/connector"
)

func init() { batonsdk.Register("baton-demo", cfg.Config, connector.New) }

func main() {}
