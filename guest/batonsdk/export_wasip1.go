//go:build wasip1

package batonsdk

import (
	"context"
	"encoding/json"

	"github.com/conductorone/baton-sdk/pkg/field"
	"github.com/extism/go-pdk"
)

var registered *Server

// Register makes the connector build builds the one this module serves.
// Call it from an init function of the wasip1 main package.
func Register[T field.Configurable, C any](name string, schema field.Configuration, build Builder[T, C]) {
	registered = New(name, schema, build)
}

//go:wasmexport baton_grpc
func exportGRPC() int32 {
	if registered == nil {
		pdk.SetError(errNotRegistered)
		return 1
	}
	out, err := registered.Handle(context.Background(), pdk.Input())
	if err != nil {
		pdk.SetError(err)
		return 1
	}
	pdk.Output(out)
	return 0
}

//go:wasmexport baton_sdk_schema
func exportSchema() int32 {
	if registered == nil {
		pdk.SetError(errNotRegistered)
		return 1
	}
	out, err := json.Marshal(registered.Schema())
	if err != nil {
		pdk.SetError(err)
		return 1
	}
	pdk.Output(out)
	return 0
}
