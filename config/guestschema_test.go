package config_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"github.com/conductorone/baton-sdk/pkg/field"
	"github.com/spf13/viper"

	"github.com/baton-runner/baton-runner/config"
	"github.com/baton-runner/baton-runner/guest/batonsdk"
)

// TestSchemaConstraints: the constraints a connector declares with
// baton-sdk's constructors reach the host through the exported schema,
// and the host's Violations decides each configuration as baton-sdk's
// field.Validate decides it on the connector's own Configuration, read as
// the guest reads its configuration.
func TestSchemaConstraints(t *testing.T) {
	var (
		token        = field.StringField("token", field.WithIsSecret(true))
		clientID     = field.StringField("client-id")
		clientSecret = field.StringField("client-secret", field.WithIsSecret(true))
		pageSize     = field.IntField("page-size")
		baseURL      = field.StringField("base-url", field.WithDefaultValue("https://api.x.test"))
		verbose      = field.BoolField("verbose")
		teams        = field.StringSliceField("teams")
		required     = field.StringField("required", field.WithRequired(true))
	)
	conf := field.NewConfiguration([]field.SchemaField{token, clientID, clientSecret, pageSize, baseURL, verbose, teams, required},
		field.WithConstraints(
			field.FieldsRequiredTogether(clientID, clientSecret),
			field.FieldsMutuallyExclusive(token, clientSecret),
			field.FieldsAtLeastOneUsed(token, clientID),
			field.FieldsDependentOn([]field.SchemaField{pageSize, verbose}, []field.SchemaField{baseURL, teams}),
			field.FieldsMutuallyExclusive(required, token), // baton-sdk refuses: required
		))
	srv := batonsdk.New("baton-x", conf, func(context.Context, *viper.Viper) (any, []connectorbuilder.Opt, error) {
		return nil, nil, errors.New("not built in this test")
	})
	raw, err := json.Marshal(srv.Schema())
	if err != nil {
		t.Fatal(err)
	}
	schema, err := config.ParseSchema(raw)
	if err != nil {
		t.Fatal(err)
	}
	wantKinds := []string{config.ConstraintRequiredTogether, config.ConstraintMutuallyExclusive, config.ConstraintAtLeastOne,
		config.ConstraintDependentOn, config.ConstraintInvalid}
	if len(schema.Constraints) != len(wantKinds) {
		t.Fatalf("constraints %+v, want %d", schema.Constraints, len(wantKinds))
	}
	for i, c := range schema.Constraints {
		if c.Kind != wantKinds[i] {
			t.Errorf("constraint %d: kind %q, want %q", i, c.Kind, wantKinds[i])
		}
	}
	if c := schema.Constraints[3]; len(c.Fields) != 2 || c.Fields[1] != "verbose" || len(c.Expected) != 2 || c.Expected[1] != "teams" {
		t.Errorf("dependent_on exported as %+v", c)
	}

	for _, values := range []map[string]string{
		{"token": "t"},
		{"client-id": "c", "client-secret": "s"},
		{},
		{"client-id": "c"},
		{"token": "t", "client-secret": "s", "client-id": "c"},
		{"token": "t", "page-size": "5"},
		{"token": "t", "page-size": "5", "teams": "a,b"},
		{"token": "t", "page-size": "5", "teams": "a", "base-url": ""},
		{"token": "t", "verbose": "false", "page-size": "0"},
		{"token": "t", "verbose": "true", "teams": "a"},
	} {
		values["required"] = "r"
		v := viper.New() // as the guest's Server configures its connector
		for _, f := range conf.Fields {
			v.SetDefault(f.FieldName, f.DefaultValue)
		}
		for k, val := range values {
			v.Set(k, val)
		}
		for i, rel := range conf.Constraints {
			one := conf
			one.Constraints = conf.Constraints[i : i+1]
			sdkErr := field.Validate(one, v)
			host := schema
			host.Constraints = schema.Constraints[i : i+1]
			if got := host.Violations(values); (len(got) > 0) != (sdkErr != nil) {
				t.Errorf("%v, constraint %d (%v): host violations %+v, baton-sdk's field.Validate: %v", values, i, rel.Kind, got, sdkErr)
			}
		}
	}
}
