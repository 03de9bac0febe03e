// Package batonsdk runs a connector written with baton-sdk's
// connectorbuilder as a baton-runner guest, unchanged: the connector's
// constructor is handed to Register, in the wasip1 main package:
//
//	func init() { batonsdk.Register("baton-demo", cfg.Config, connector.New) }
//	func main() {}
//
// A Builder is cli.NewConnector without its *cli.ConnectorOpts: baton-sdk's
// pkg/cli reaches Pebble, which has no wasip1 build, so a connector whose
// constructor takes cli.ConnectorOpts does not compile for the guest yet
// (docs/ABI.md, "baton-sdk guests").
//
// The guest serves every ConnectorV2 service through baton-sdk's own
// transport-agnostic gRPC layer (pkg/lambda/grpc, as its Lambda mode
// does): one export, baton_grpc, takes a transport Request and returns a
// Response, both in baton-sdk's lossless wire frame, so every message,
// annotation and status detail the connector sets reaches the host's
// baton-sdk syncer as it would over a socket. See docs/ABI.md.
//
// Server is the same logic without the exports, so hosts and tests can
// run a connector natively exactly as the guest does.
package batonsdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"
	"github.com/conductorone/baton-sdk/pkg/field"
	lgrpc "github.com/conductorone/baton-sdk/pkg/lambda/grpc"
	"github.com/conductorone/baton-sdk/pkg/types"
	"github.com/spf13/viper"

	"github.com/baton-runner/baton-runner/abi"
)

// Server serves one connector.
type Server struct {
	name   string
	schema field.Configuration
	build  func(ctx context.Context, config map[string]string) (types.ConnectorServer, error)

	mu     sync.Mutex
	config []byte // the configuration srv was built with
	srv    *lgrpc.Server
}

// Builder builds a connector from its configuration T, whose fields the
// connector's schema declares (T may be *viper.Viper, as for connectors
// whose main uses baton-sdk's older config.DefineConfiguration). The
// connector is a connectorbuilder.ConnectorBuilderV2 or, for older
// connectors, a connectorbuilder.ConnectorBuilder: whatever
// connectorbuilder.NewConnector takes.
type Builder[T field.Configurable, C any] func(ctx context.Context, cfg T) (C, []connectorbuilder.Opt, error)

// New returns a Server for the connector build builds.
func New[T field.Configurable, C any](name string, schema field.Configuration, build Builder[T, C]) *Server {
	return &Server{name: name, schema: schema, build: func(ctx context.Context, config map[string]string) (types.ConnectorServer, error) {
		v := viper.New()
		for _, f := range schema.Fields {
			if f.DefaultValue != nil {
				v.SetDefault(f.FieldName, f.DefaultValue)
			}
		}
		for k, val := range config {
			v.Set(k, val)
		}
		// As baton-sdk's cli.MakeGenericConfiguration decodes it.
		cfg, ok := any(v).(T)
		if !ok {
			if err := v.Unmarshal(&cfg, viper.DecodeHook(field.ComposeDecodeHookFunc())); err != nil {
				return nil, err
			}
		}
		builder, opts, err := build(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return connectorbuilder.NewConnector(ctx, builder, opts...)
	}}
}

// Handle serves one baton_grpc call: an abi.BatonSDKCall in, a transport
// Response out.
func (s *Server) Handle(ctx context.Context, in []byte) ([]byte, error) {
	var call abi.BatonSDKCall
	if err := json.Unmarshal(in, &call); err != nil {
		return nil, fmt.Errorf("baton_grpc: input is not a BatonSDKCall document: %w", err)
	}
	srv, err := s.server(ctx, call.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: building the connector from its configuration: %w", s.name, err)
	}
	req := &lgrpc.Request{}
	if err := req.UnmarshalJSON(call.Request); err != nil {
		return nil, fmt.Errorf("baton_grpc: request: %w", err)
	}
	resp, err := srv.Handler(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.MarshalJSON()
}

// server returns the gRPC server of the connector built from config,
// building it when config differs from the last one.
func (s *Server) server(ctx context.Context, config map[string]string) (*lgrpc.Server, error) {
	key, err := json.Marshal(config) // map keys sorted: one key per configuration
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil && bytes.Equal(key, s.config) {
		return s.srv, nil
	}
	cs, err := s.build(ctx, config)
	if err != nil {
		return nil, err
	}
	srv := lgrpc.NewServer(nil)
	register(srv, cs)
	s.srv, s.config = srv, key
	return srv, nil
}

// register serves every ConnectorV2 service: what the connector does not
// implement, connectorbuilder answers as baton-sdk's own runner does, and
// the host decides which it calls (provisioning, for one).
func register(s *lgrpc.Server, cs types.ConnectorServer) {
	v2.RegisterConnectorServiceServer(s, cs)
	v2.RegisterResourceTypesServiceServer(s, cs)
	v2.RegisterResourcesServiceServer(s, cs)
	v2.RegisterEntitlementsServiceServer(s, cs)
	v2.RegisterGrantsServiceServer(s, cs)
	v2.RegisterAssetServiceServer(s, cs)
	v2.RegisterEventServiceServer(s, cs)
	v2.RegisterResourceGetterServiceServer(s, cs)
	v2.RegisterTicketsServiceServer(s, cs)
	v2.RegisterActionServiceServer(s, cs)
	v2.RegisterGrantManagerServiceServer(s, cs)
	v2.RegisterResourceManagerServiceServer(s, cs)
	v2.RegisterResourceDeleterServiceServer(s, cs)
	v2.RegisterAccountManagerServiceServer(s, cs)
	v2.RegisterCredentialManagerServiceServer(s, cs)
}

// SchemaField is one configuration field as the host sees it: enough to
// accept the connector's flags and BATON_* variables, to validate a
// tenant's configuration, and to keep secrets out of the guest.
type SchemaField struct {
	Name        string `json:"name"`
	Type        string `json:"type"` // string, bool, int, string_slice, string_map
	Required    bool   `json:"required,omitempty"`
	Secret      bool   `json:"secret,omitempty"`
	Description string `json:"description,omitempty"`
	Default     any    `json:"default,omitempty"`
}

// Constraint is a relationship between fields the connector declares
// (field.SchemaFieldRelationship), which the host checks as baton-sdk's
// field.Validate does for the connector's own binary.
type Constraint struct {
	// Kind is required_together, mutually_exclusive, at_least_one,
	// dependent_on, or invalid: a relationship baton-sdk's constructors
	// refused, which its field.Validate fails every configuration of.
	Kind   string   `json:"kind"`
	Fields []string `json:"fields"`
	// Expected are the fields that Fields depend on (dependent_on).
	Expected []string `json:"expected,omitempty"`
}

// Schema is the output of baton_sdk_schema.
type Schema struct {
	Name        string        `json:"name"`
	Fields      []SchemaField `json:"fields"`
	Constraints []Constraint  `json:"constraints,omitempty"`
}

// Schema returns the connector's configuration schema.
func (s *Server) Schema() Schema {
	out := Schema{Name: s.name}
	for _, f := range s.schema.Fields {
		out.Fields = append(out.Fields, SchemaField{
			Name: f.FieldName, Type: variantName(f.Variant), Required: f.Required, Secret: f.Secret,
			Description: f.Description, Default: f.DefaultValue,
		})
	}
	// The connector's own constraints only, as its binary's field.Validate
	// checks: baton-sdk's DefaultRelationships are between its runner's
	// flags, which baton-runner's commands check themselves.
	for _, c := range s.schema.Constraints {
		out.Constraints = append(out.Constraints, Constraint{
			Kind: relationshipName(c.Kind), Fields: fieldNames(c.Fields), Expected: fieldNames(c.ExpectedFields),
		})
	}
	return out
}

func relationshipName(r field.Relationship) string {
	switch r {
	case field.RequiredTogether:
		return "required_together"
	case field.MutuallyExclusive:
		return "mutually_exclusive"
	case field.AtLeastOne:
		return "at_least_one"
	case field.Dependents:
		return "dependent_on"
	default:
		return "invalid"
	}
}

func fieldNames(fs []field.SchemaField) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.FieldName)
	}
	return out
}

func variantName(v field.Variant) string {
	switch v {
	case field.BoolVariant:
		return "bool"
	case field.IntVariant:
		return "int"
	case field.StringSliceVariant:
		return "string_slice"
	case field.StringMapVariant:
		return "string_map"
	default:
		return "string"
	}
}

// errNotRegistered is what the exports answer before Register.
var errNotRegistered = errors.New("no connector registered: the guest's main package must call batonsdk.Register in an init function")
