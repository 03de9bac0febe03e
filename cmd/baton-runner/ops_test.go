package main

import (
	"net"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestServeOpsNamesTheSettingWhenTheAddressIsTaken: daemon and service
// share serveOps; each names its own setting when it cannot listen.
func TestServeOpsNamesTheSettingWhenTheAddressIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	ep := opsEndpoints{name: "health", setting: "set --health-port", ready: func() (bool, string) { return true, "ready" }}
	stop, err := serveOps(taken.Addr().String(), ep, zap.NewNop())
	if err == nil {
		stop()
		t.Fatal("serveOps listened on a taken address")
	}
	if !strings.Contains(err.Error(), "set --health-port") || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Errorf("error %q does not name the address and the setting", err)
	}
}
