// Command baton-runner runs identity-governance connectors inside a
// WebAssembly sandbox: it syncs a SaaS tenant's access data into a c1z file
// with baton-sdk while the connector logic runs as a guest module that can
// reach only the tenant's API origin and never holds its credentials.
//
// Run `baton-runner help` for the commands.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func defaultAction(c *cli.Context) error {
	if c.Args().Present() {
		return fmt.Errorf("unknown command %q: run `baton-runner help`", c.Args().First())
	}
	if ok, err := lifecycleAction(c); ok {
		return err
	}
	if ok, err := batonProvisioning(c); ok {
		return err
	}
	if c.String("client-id") != "" {
		return runService(c)
	}
	return syncAction(c)
}

// rootFlags are the bare command's: those of sync and service together.
func rootFlags() []cli.Flag {
	return concat(tenantFlags(), []cli.Flag{fileFlag(), storageEngineFlag()}, oneShotFlags(), syncScopeFlags(), serviceFlags(), runtimeFlags(), limitFlags(), logFlags(), lifecycleFlags())
}

func newApp() *cli.App {
	app := &cli.App{
		Name:    "baton-runner",
		Usage:   "run baton connectors inside a WebAssembly sandbox",
		Version: buildVersion(),
		Description: "baton-sdk's standard flags and BATON_* variables are accepted by every command: " +
			"a setting the command does not use is ignored with a warning naming it, an operation it does not do is refused.",
		// Like a baton connector binary: with BATON_CLIENT_ID set, the bare
		// command runs service mode; otherwise it syncs.
		Flags:  rootFlags(),
		Action: defaultAction,
		Commands: []*cli.Command{
			syncCommand(),
			serviceCommand(),
			serveCommand(),
			configCommand(),
			grantCommand(),
			revokeCommand(),
			inspectCommand(),
			simCommand(),
			demoCommand(),
			capabilitiesCommand(),
		},
		// Errors are printed once, by main, without a usage dump.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	acceptBatonDefaults(app)
	return app
}

func main() {
	ctx, stopped := withSignals(context.Background())
	app := newApp()
	var err error
	if prepared, err = prepareGuest(ctx, app, os.Args); err == nil {
		err = unknownFlagHint(app.RunContext(ctx, os.Args), prepared)
	}
	if code, msg, ok := exitAfter(stopped(), err); ok {
		fmt.Fprintf(os.Stderr, "baton-runner: %s\n", msg)
		os.Exit(code)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "baton-runner: %v\n", err)
		os.Exit(1)
	}
}
