//go:build wasip1

package main

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/extism/go-pdk"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
	"github.com/baton-runner/baton-runner/guest/wasmenv"
)

// The hostile guest defines its exports itself instead of using package
// wasmguest: some attacks need the raw export (a non-zero return code with
// error_set, an output document no Go value encodes to), which the guest
// library rightly never produces.

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

var env = wasmenv.Env()

func run(export string) int32 {
	input := pdk.Input()
	if export == abi.ExportListResources {
		var req abi.ListResourcesRequest
		if json.Unmarshal(input, &req) == nil {
			if rc, ok := rawAttack(req.Config); ok {
				return rc
			}
		}
	}
	out, err := guest.Dispatch(context.Background(), hostile{}, env, export, input)
	if err != nil {
		pdk.SetError(err)
		return 1
	}
	pdk.Output(out)
	return 0
}

// rawAttack runs the attacks that bypass the result envelope.
func rawAttack(cfg map[string]string) (int32, bool) {
	switch cfg["attack"] {
	case "huge-error-set":
		// error_set with a huge message, then a failed return code.
		n := size(cfg, "bytes", 24<<20)
		pdk.SetErrorString(fill('E', n))
		return 1, true
	case "amplify":
		// {"ok":{"resources":[{},{},…]}}: three bytes of output per value
		// the host decodes.
		n := size(cfg, "bytes", 16<<20)
		const head, tail = `{"ok":{"resources":[`, `]}}`
		b := make([]byte, 0, n+len(head)+len(tail)+2)
		b = append(b, head...)
		for len(b)+3 <= n-len(tail) || len(b) == len(head) {
			if len(b) > len(head) {
				b = append(b, ',')
			}
			b = append(b, '{', '}')
		}
		b = append(b, tail...)
		pdk.Output(b)
		return 0, true
	}
	return 0, false
}

// size reads a byte or count setting, with a default.
func size(cfg map[string]string, key string, def int) int {
	if n, err := strconv.Atoi(cfg[key]); err == nil && n >= 0 {
		return n
	}
	return def
}

func fill(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
