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
			url, stop, err := startSim(c, "127.0.0.1:0", segmentsim.DefaultToken)
			if err != nil {
				return err
			}
			defer stop()
			logger.Info("simulated Segment workspace", zap.String("url", url), zap.Int("users", c.Int("users")))
			if err := runSync(c.Context, c, logger, segmentsim.DefaultToken, url, c.String("file")); err != nil {
				return err
			}
			fmt.Fprint(os.Stdout, demoNext(c.String("file")))
			return nil
		},
	}
}

// demoNext is what to try after the demo: the explorer on its c1z, and a
// simulator to grant and revoke against.
func demoNext(file string) string {
	return fmt.Sprintf(`
Next, explore %[1]s:
  baton-runner inspect resources -f %[1]s --resource-type group
  baton-runner inspect access -f %[1]s --principal user:<userId>     (what a user can reach, also through groups)
  baton-runner inspect grants -f %[1]s --entitlement group:<groupId>:member
Grant and revoke against a simulator that stays up:
  baton-runner sim --users 500 &                                       (token sim-token on 127.0.0.1:8765)
  export BATON_TOKEN=sim-token BATON_BASE_URL=http://127.0.0.1:8765
  baton-runner sync -f sim.c1z
  baton-runner grant -f sim.c1z --entitlement group:<groupId>:member --principal-type user --principal <userId>
  baton-runner revoke -f sim.c1z --grant group:<groupId>:member:user:<userId>
`, file)
}
