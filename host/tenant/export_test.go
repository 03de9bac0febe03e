package tenant

import "github.com/baton-runner/baton-runner/internal/connector"

// ConnectorOf lets this package's tests reach the baton-sdk adapter behind
// the tenant, to call a syncer's method the client does not expose.
func ConnectorOf(t *Tenant) *connector.Connector { return t.connector }
