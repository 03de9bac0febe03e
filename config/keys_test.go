package config

import (
	"os"
	"regexp"
	"slices"
	"strings"
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

// TestListEntriesKeepTheirIndex: a problem with an entry of an array of
// strings names the entry's own index, also after an entry that is not a
// string.
func TestListEntriesKeepTheirIndex(t *testing.T) {
	wantErrors(t, strings.Replace(batonSDK, `"https://auth.demo.test:8443"]`, `1, "https://auth.demo.test:8443/v1"]`, 1),
		`runner.toml:9: tenants[0].origins[1]: must be a string, not an integer`,
		`runner.toml:9: tenants[0].origins[2]: has a path; give only scheme://host[:port], the connector supplies every path`)
}
