package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/internal/wasmbuild"
)

// Compile checks a guest module once (exports, ABI version, metadata);
// a pool of its instances then serves calls under the sandbox's limits.
func Example() {
	ctx := context.Background()
	wasm, err := wasmbuild.Read("guest/segment/wasm") // bin/segment.wasm, as `make build` makes it
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := sandbox.Compile(ctx, sandbox.Config{Wasm: wasm, MemoryLimitMiB: 128})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close(ctx)
	fmt.Println(m.Metadata().DisplayName, "guest, ABI version", m.Metadata().ABIVersion)

	// Without an HTTP doer the guest's requests are refused, so validating
	// its credentials fails as a value, not a trap.
	pool := m.NewPool(sandbox.PoolConfig{Instances: 1})
	defer pool.Close(ctx)
	out, err := pool.Call(ctx, abi.ExportValidate, []byte(`{}`), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	var res abi.Result[abi.Empty]
	if err := json.Unmarshal(out, &res); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("validate:", res.Error.Code)
	// Output:
	// Segment guest, ABI version 1
	// validate: egress_denied
}
