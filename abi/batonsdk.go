package abi

import "encoding/json"

// Exports of a baton-sdk guest: a connector written with baton-sdk's
// connectorbuilder, served by the guest kit guest/batonsdk. Such a guest
// defines these instead of the JSON exports above; the host tells the two
// kinds apart by ExportBatonGRPC.
const (
	// ExportBatonGRPC takes a batonsdk.Call (the connector's configuration
	// and one baton-sdk transport Request in its lossless wire frame) and
	// returns the transport Response: every ConnectorV2 method, with its
	// status details, through one export.
	ExportBatonGRPC = "baton_grpc"
	// ExportBatonSDKSchema returns the connector's configuration schema
	// (batonsdk.Schema).
	ExportBatonSDKSchema = "baton_sdk_schema"
)

// BatonSDKCall is the input of ExportBatonGRPC. The connector's
// configuration travels with every call: an instance may be new at any
// call (the host discards one after a trap), and the guest builds the
// connector once per configuration.
type BatonSDKCall struct {
	// Config holds the values of the connector's configuration fields, by
	// field name.
	Config map[string]string `json:"config"`
	// Request is baton-sdk's transport Request (pkg/lambda/grpc) as JSON,
	// in its wire-frame form.
	Request json.RawMessage `json:"request"`
}

// SecretPlaceholder is what a baton-sdk guest receives in place of the
// value of a configuration field its schema marks secret. The host puts
// the value back only into requests bound for the tenant's allowed
// origins (host/egress). It is made of URL-unreserved characters only, so
// it reaches the host unchanged whether the connector put it in a path,
// a query, a form or JSON body or a header (Basic credentials are decoded
// to find it).
func SecretPlaceholder(field string) string { return SecretPlaceholderPrefix + field }

// SecretPlaceholderPrefix begins every SecretPlaceholder.
const SecretPlaceholderPrefix = "baton-runner-secret."
