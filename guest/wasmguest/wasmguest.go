//go:build wasip1

// Package wasmguest binds a guest.Connector to the WebAssembly side of the
// ABI (package abi): it defines the module's exports with //go:wasmexport,
// passes their input to guest.Dispatch and writes the result envelope, and
// implements guest.Env on top of the host functions. It is the only package
// of a guest that touches extism's go-pdk, so connector logic stays
// buildable and testable natively.
//
// A guest's main package registers its connector in an init function:
//
//	func init() { wasmguest.Register(segment.New()) }
//	func main() {}
package wasmguest

import (
	"context"
	"runtime/debug"

	"github.com/extism/go-pdk"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
	"github.com/baton-runner/baton-runner/guest/wasmenv"
)

var registered guest.Connector

// gcPercent is the guest's GOGC. Its live heap is small (a page of API
// results), so Go's default lets it grow to its 4 MiB minimum before the
// first collection; and wasm cannot return memory, so every page it ever
// touched stays resident host memory for the instance's life. At 25 an
// instance of the Segment guest holds ~6 MiB instead of ~9 through a
// sync, for no measurable time.
const gcPercent = 25

func init() { debug.SetGCPercent(gcPercent) }

// Register makes c the connector served by this module's exports.
func Register(c guest.Connector) { registered = c }

// env is the Env lent to every call: the host functions and the host logger.
var env = wasmenv.Env()

//go:wasmexport baton_metadata
func exportMetadata() int32 { return run(abi.ExportMetadata) }

//go:wasmexport baton_validate
func exportValidate() int32 { return run(abi.ExportValidate) }

//go:wasmexport baton_list_resources
func exportListResources() int32 { return run(abi.ExportListResources) }

//go:wasmexport baton_list_entitlements
func exportListEntitlements() int32 { return run(abi.ExportListEntitlements) }

//go:wasmexport baton_list_grants
func exportListGrants() int32 { return run(abi.ExportListGrants) }

//go:wasmexport baton_grant
func exportGrant() int32 { return run(abi.ExportGrant) }

//go:wasmexport baton_revoke
func exportRevoke() int32 { return run(abi.ExportRevoke) }

//go:wasmexport baton_create_account
func exportCreateAccount() int32 { return run(abi.ExportCreateAccount) }

//go:wasmexport baton_delete_resource
func exportDeleteResource() int32 { return run(abi.ExportDeleteResource) }

//go:wasmexport baton_get_resource
func exportGetResource() int32 { return run(abi.ExportGetResource) }

// run serves one export. Connector errors travel in the output envelope
// with return code 0, so the host can tell them from a broken guest (1).
func run(export string) int32 {
	if registered == nil {
		pdk.SetErrorString("guest module registered no connector")
		return 1
	}
	out, err := guest.Dispatch(context.Background(), registered, env, export, wasmenv.Input())
	if err != nil {
		pdk.SetError(err)
		return 1
	}
	wasmenv.Output(out)
	return 0
}
