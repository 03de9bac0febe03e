package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/baton-runner/baton-runner/host/inspect"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:  "inspect",
		Usage: "print what a c1z file holds: resources, entitlements and grants per resource type",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Value: "sync.c1z", Usage: "c1z file to read", EnvVars: []string{"BATON_FILE"}},
		},
		Action: func(c *cli.Context) error {
			return printSummary(c, c.String("file"))
		},
	}
}

func printSummary(c *cli.Context, file string) error {
	snap, err := inspect.Load(c.Context, file, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "%s (sync %s)\n", file, snap.SyncID)
	return snap.WriteSummary(os.Stdout)
}
