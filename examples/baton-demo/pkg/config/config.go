// Package config is the demo connector's configuration schema, written as
// ConductorOne's connectors write theirs with baton-sdk's field package.
package config

import (
	"github.com/conductorone/baton-sdk/pkg/field"
)

var (
	BaseURLField = field.StringField("base-url", field.WithDefaultValue("https://api.demo.test"),
		field.WithDescription("The API's base URL"))
	TokenURLField = field.StringField("token-url", field.WithDefaultValue("https://auth.demo.test/oauth/token"),
		field.WithDescription("The OAuth2 token endpoint"))
	// Not client-id and client-secret: baton-sdk's runner has those, for
	// ConductorOne's own credentials.
	ClientIDField = field.StringField("demo-client-id", field.WithRequired(true),
		field.WithDescription("The OAuth2 client ID"))
	ClientSecretField = field.StringField("demo-client-secret", field.WithRequired(true), field.WithIsSecret(true),
		field.WithDescription("The OAuth2 client secret"))
	APIKeyField = field.StringField("api-key", field.WithRequired(true), field.WithIsSecret(true),
		field.WithDescription("The API key the roles endpoints require"))
	// Config is the schema baton-sdk's runner and baton-runner both read.
	Config = field.NewConfiguration([]field.SchemaField{BaseURLField, TokenURLField, ClientIDField, ClientSecretField, APIKeyField},
		field.WithConnectorDisplayName("Demo"))
)

// Demo is the configuration the connector receives (what baton-sdk's
// config.Generate would write as conf.gen.go).
type Demo struct {
	BaseURL      string `mapstructure:"base-url"`
	TokenURL     string `mapstructure:"token-url"`
	ClientID     string `mapstructure:"demo-client-id"`
	ClientSecret string `mapstructure:"demo-client-secret"`
	APIKey       string `mapstructure:"api-key"`
}

func (d *Demo) GetString(key string) string {
	switch key {
	case BaseURLField.FieldName:
		return d.BaseURL
	case TokenURLField.FieldName:
		return d.TokenURL
	case ClientIDField.FieldName:
		return d.ClientID
	case ClientSecretField.FieldName:
		return d.ClientSecret
	case APIKeyField.FieldName:
		return d.APIKey
	}
	return ""
}

func (d *Demo) GetBool(string) bool { return false }

func (d *Demo) GetInt(string) int { return 0 }

func (d *Demo) GetStringSlice(string) []string { return nil }

func (d *Demo) GetStringMap(string) map[string]any { return nil }
