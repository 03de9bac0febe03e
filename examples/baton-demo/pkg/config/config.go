// Package config is the demo connector's configuration schema, written as
// ConductorOne's connectors write theirs with baton-sdk's field package.
package config

import (
	"github.com/conductorone/baton-sdk/pkg/field"
)

var (
	OrgField   = field.StringField("org", field.WithRequired(true), field.WithDescription("The organisation to sync"))
	UsersField = field.IntField("users", field.WithDefaultValue(7), field.WithDescription("How many users the organisation has"))
	// Config is the schema baton-sdk's runner and baton-runner both read.
	Config = field.NewConfiguration([]field.SchemaField{OrgField, UsersField}, field.WithConnectorDisplayName("Demo"))
)

// Demo is the configuration the connector receives (what baton-sdk's
// config.Generate would write as conf.gen.go).
type Demo struct {
	Org   string `mapstructure:"org"`
	Users int    `mapstructure:"users"`
}

func (d *Demo) GetString(key string) string {
	if key == "org" {
		return d.Org
	}
	return ""
}

func (d *Demo) GetBool(string) bool { return false }

func (d *Demo) GetInt(key string) int {
	if key == "users" {
		return d.Users
	}
	return 0
}

func (d *Demo) GetStringSlice(string) []string { return nil }

func (d *Demo) GetStringMap(string) map[string]any { return nil }
