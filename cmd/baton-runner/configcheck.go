package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/baton-runner/baton-runner/config"
	"github.com/baton-runner/baton-runner/host/runner"
)

func configCheckCommand() *cli.Command {
	return &cli.Command{
		Name: "check",
		Usage: "validate runner.toml as serve would, without running it: syntax, keys, values, secret references, " +
			"module pins and that every module compiles; secrets that do not resolve here are listed, not errors, unless --require-secrets",
		ArgsUsage: "[runner.toml]",
		Flags: concat([]cli.Flag{
			configFlag(false),
			&cli.BoolFlag{Name: "require-secrets", Usage: "fail when a secret reference does not resolve here (check where the secrets are)", EnvVars: []string{"BATON_REQUIRE_SECRETS"}},
		}, logFlags()),
		Action: configCheck,
	}
}

func configCheck(c *cli.Context) error {
	path := c.String("config")
	switch {
	case c.NArg() > 1:
		return errors.New("config check takes one file: baton-runner config check --config runner.toml")
	case c.NArg() == 1 && path != "" && c.Args().First() != path:
		return fmt.Errorf("give the file once: as an argument (%s) or with --config/BATON_CONFIG (%s), not both", c.Args().First(), path)
	case c.NArg() == 1:
		path = c.Args().First()
	case path == "":
		return errors.New("which file? baton-runner config check --config runner.toml (or set BATON_CONFIG)")
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	spec, err := buildSpec(cfg, c.Bool("require-secrets"))
	if err != nil {
		return err
	}
	logger, err := newLogger(c)
	if err != nil {
		return err
	}
	if err := runner.Check(c.Context, spec, logger); err != nil {
		return fmt.Errorf("%s: %w (serve would refuse this file)", path, err)
	}
	fmt.Printf("%s: ok, %d tenant(s), %d module(s) compiled\n", path, len(cfg.Tenants), len(spec.Modules))
	if unresolved := config.Errors(cfg.CheckSecrets()); len(unresolved) > 0 {
		// Only reachable without --require-secrets: buildSpec failed
		// otherwise.
		fmt.Fprintf(os.Stderr, "%d secret(s) not resolved here (serve needs them where it runs):\n", len(unresolved))
		for _, e := range unresolved {
			fmt.Fprintf(os.Stderr, "  %v\n", e)
		}
	}
	return nil
}
