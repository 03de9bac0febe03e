// Command baton-demo runs the demo connector natively with baton-sdk's own
// runner, as a ConductorOne connector's main does; examples/baton-demo/wasm
// is the same connector as a baton-runner guest.
package main

import (
	"context"

	"github.com/conductorone/baton-sdk/pkg/cli"
	"github.com/conductorone/baton-sdk/pkg/config"
	"github.com/conductorone/baton-sdk/pkg/connectorbuilder"

	cfg "github.com/baton-runner/baton-runner/examples/baton-demo/pkg/config"
	"github.com/baton-runner/baton-runner/examples/baton-demo/pkg/connector"
)

func main() {
	config.RunConnector(context.Background(), "baton-demo", "dev", cfg.Config,
		func(ctx context.Context, c *cfg.Demo, _ *cli.ConnectorOpts) (connectorbuilder.ConnectorBuilderV2, []connectorbuilder.Opt, error) {
			return connector.New(ctx, c)
		})
}
