package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

func demoCommand() *cli.Command {
	flags := concat(simFlags(500), []cli.Flag{
		&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Value: "demo.c1z", Usage: "c1z file to write"},
		&cli.StringFlag{Name: "audit-log", Usage: "append a JSON line per outbound request to this file"},
	}, runtimeFlags(), limitFlags(), logFlags())
	return &cli.Command{
		Name:  "demo",
		Usage: "start the Segment simulator, sync it through the sandbox and print what the c1z holds",
		Flags: flags,
		Action: func(c *cli.Context) error {
			logger, err := newLogger(c)
			if err != nil {
				return err
			}
			defer func() { _ = logger.Sync() }()
			url, stop, err := startSim(c, "127.0.0.1:0", segmentsim.DefaultToken)
			if err != nil {
				return err
			}
			defer stop()
			logger.Info("simulated Segment workspace", zap.String("url", url), zap.Int("users", c.Int("users")))
			if err := runSync(c.Context, c, logger, segmentsim.DefaultToken, url, c.String("file")); err != nil {
				return err
			}
			fmt.Fprintln(os.Stdout)
			if err := printSummary(c, c.String("file")); err != nil {
				return err
			}
			return printInviteExample(c.Context, os.Stdout, c.String("file"))
		},
	}
}
