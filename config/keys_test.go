package config

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestEveryKeyDocumented: the package doc's format and runner.toml, the
// example operators start from, mention every key the checker takes, so
// that a key added to a table cannot go undocumented.
func TestEveryKeyDocumented(t *testing.T) {
	ck := &checker{}
	keys := slices.Concat([]string{"runtime", "connectors", "tenants"},
		names(ck.runtimeKeys()), names(ck.connectorKeys("x")), names(ck.tenantKeys()),
		names(ck.abiTenantKeys()), names(ck.batonSDKTenantKeys()), names(ck.syncKeys()), names(ck.serviceKeys()))
	for _, file := range []string{"doc.go", "../runner.toml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			// Written as a key (k = …) or a table header ([k], [[k]], [a.k]).
			if !regexp.MustCompile(`(?m)(^|[\s#(\[.])` + regexp.QuoteMeta(k) + `(\s*=|\.|\]\]?)`).Match(data) {
				t.Errorf("%s does not mention the key %s", file, k)
			}
		}
	}
}
