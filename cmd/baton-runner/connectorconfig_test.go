package main

import (
	"strings"
	"testing"
)

// TestGuestSettings: the environment, then --set, checked against the
// schema; a secret reaches the guest only as a placeholder.
func TestGuestSettings(t *testing.T) {
	schema := guestSchema{Name: "baton-x", Fields: []schemaField{
		{Name: "domain", Required: true}, {Name: "api-key", Secret: true}, {Name: "page-size"},
	}}
	env := map[string]string{"BATON_DOMAIN": "x.example.com", "BATON_API_KEY": "the-real-key"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	got, err := schema.settings(lookup, []string{"page-size=50", "domain=y.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got["domain"] != "y.example.com" || got["page-size"] != "50" || got["api-key"] != secretPlaceholder("api-key") {
		t.Errorf("settings %v", got)
	}
	for _, v := range got {
		if strings.Contains(v, "the-real-key") {
			t.Errorf("the secret reached the guest's settings: %v", got)
		}
	}
	if _, err := schema.settings(func(string) (string, bool) { return "", false }, nil); err == nil || !strings.Contains(err.Error(), "BATON_DOMAIN") {
		t.Errorf("missing required field: err = %v", err)
	}
	if _, err := schema.settings(lookup, []string{"colour=blue"}); err == nil || !strings.Contains(err.Error(), "api-key, domain, page-size") {
		t.Errorf("unknown field: err = %v", err)
	}
}
