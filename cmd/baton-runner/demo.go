package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/host/inspect"
	"github.com/baton-runner/baton-runner/internal/segmentsim"
)

func demoCommand() *cli.Command {
	flags := concat(simFlags(500), []cli.Flag{
		&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Value: "demo.c1z", Usage: "c1z file to write", EnvVars: []string{"BATON_FILE"}},
		&cli.StringFlag{Name: "audit-log", Usage: "append a JSON line per outbound request to this file", EnvVars: []string{"BATON_AUDIT_LOG"}},
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
			url, stop, err := startSim(c, "127.0.0.1:0", segmentsim.DefaultToken, nil)
			if err != nil {
				return err
			}
			defer stop()
			logger.Info("simulated Segment workspace", zap.String("url", url), zap.Int("users", c.Int("users")))
			if err := runSync(c.Context, c, logger, segmentsim.DefaultToken, url, c.String("file")); err != nil {
				return err
			}
			if err := printInviteExample(c.Context, os.Stdout, c.String("file")); err != nil {
				return err
			}
			next, err := demoNext(c, c.String("file"))
			if err != nil {
				return err
			}
			fmt.Fprint(os.Stdout, next)
			return nil
		},
	}
}

// demoNext is what to try after the demo, with real IDs from its c1z: the
// explorer, and grant and revoke against a simulator generated like the
// demo's (same users and seed, so the same IDs).
func demoNext(c *cli.Context, file string) (string, error) {
	snap, err := inspect.Load(c.Context, file, "")
	if err != nil {
		return "", err
	}
	prog := "baton-runner"
	if a := os.Args[0]; strings.Contains(a, "/") && !filepath.IsAbs(a) {
		prog = a // as invoked, e.g. bin/baton-runner under make
	}
	var group, member, outsider string
	for _, r := range snap.Resources {
		if r.GetId().GetResourceType() == "group" {
			group = r.GetId().GetResource()
			break
		}
	}
	members := map[string]bool{}
	for _, g := range snap.Grants {
		if g.GetEntitlement().GetId() == "group:"+group+":member" {
			members[g.GetPrincipal().GetId().GetResource()] = true
		}
	}
	for _, r := range snap.Resources {
		if id := r.GetId(); id.GetResourceType() == "user" {
			if members[id.GetResource()] && member == "" {
				member = id.GetResource()
			} else if !members[id.GetResource()] && outsider == "" {
				outsider = id.GetResource()
			}
		}
	}
	return fmt.Sprintf(`
Next, explore %[2]s:
  %[1]s inspect resources -f %[2]s --resource-type group
  %[1]s inspect access -f %[2]s --principal user:%[4]s      (what a user can reach, also through its groups)
  %[1]s inspect grants -f %[2]s --entitlement group:%[3]s:member
Grant and revoke against a simulator with the same data that stays up:
  %[1]s sim --users %[6]d --seed %[7]d &
  export BATON_TOKEN=sim-token BATON_BASE_URL=http://127.0.0.1:8765
  %[1]s grant -f %[2]s --entitlement group:%[3]s:member --principal user:%[5]s
  %[1]s sync -f after.c1z && %[1]s inspect diff %[2]s after.c1z
  %[1]s revoke -f after.c1z --grant group:%[3]s:member:user:%[5]s
`, prog, file, group, member, outsider, c.Int("users"), c.Int64("seed")), nil
}
