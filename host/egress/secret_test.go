package egress

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/baton-runner/baton-runner/host/secret"
)

// TestConfigAndClientNeverPrintToken: the token's Secret keeps its value
// out of a printed Config and a printed Client (where it is an unexported
// field, which fmt prints by reflection).
func TestConfigAndClientNeverPrintToken(t *testing.T) {
	cfg := Config{BaseURL: "https://api.segmentapis.com", Token: secret.New(testToken)}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(cfg)
	for _, o := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), string(j),
		fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", *c)} {
		noLeak(t, "formatted config", o)
	}
}
