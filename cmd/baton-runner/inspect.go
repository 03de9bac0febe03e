package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/baton-runner/baton-runner/host/inspect"
)

const defaultC1Z = "sync.c1z"

func inspectFileFlag() cli.Flag {
	return &cli.StringFlag{Name: "file", Aliases: []string{"f"}, Value: defaultC1Z, Usage: "c1z file to read", EnvVars: []string{"BATON_FILE"}}
}

func outputFlag() cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "table, json (one array of objects with full IDs) or csv", EnvVars: []string{"BATON_OUTPUT"}}
}

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "explore a c1z file: counts per resource type, or (subcommands) its resources, entitlements, grants, who has access, and what changed",
		ArgsUsage: "[FILE.c1z]",
		Flags:     []cli.Flag{inspectFileFlag(), &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "json or csv instead of the summary table", EnvVars: []string{"BATON_OUTPUT"}}},
		Action: func(c *cli.Context) error {
			file, err := inspectFile(c)
			if err != nil {
				return err
			}
			if o := c.String("output"); o != "" && o != "table" {
				if err := checkOutput(o); err != nil {
					return err
				}
				sum, err := summarizeC1Z(c, file)
				if err != nil {
					return err
				}
				return sum.CountTable().Write(os.Stdout, o)
			}
			return printSummary(c, file)
		},
		Subcommands: []*cli.Command{
			{
				Name:  "resources",
				Usage: "list resources (TYPE:ID, name, e-mail or description, parent)",
				Flags: []cli.Flag{inspectFileFlag(), outputFlag(),
					&cli.StringFlag{Name: "resource-type", Usage: "only resources of this type, e.g. user, group, role, source", EnvVars: []string{"BATON_INSPECT_RESOURCE_TYPE"}}},
				Action: explore(func(c *cli.Context, s *inspect.Snapshot) (*inspect.Table, error) {
					return s.ResourceTable(c.String("resource-type"))
				}),
			},
			{
				Name:  "entitlements",
				Usage: "list entitlements: the IDs grant --entitlement takes",
				Flags: []cli.Flag{inspectFileFlag(), outputFlag(),
					&cli.StringFlag{Name: "resource-type", Usage: "only entitlements on resources of this type", EnvVars: []string{"BATON_INSPECT_RESOURCE_TYPE"}},
					&cli.StringFlag{Name: "resource", Usage: "only entitlements on this resource (TYPE:ID, or its ID)", EnvVars: []string{"BATON_INSPECT_RESOURCE"}},
					&cli.StringFlag{Name: "entitlement", Usage: "only this entitlement, by its ID in either --entitlement-ids scheme, shown with both", EnvVars: []string{"BATON_INSPECT_ENTITLEMENT"}},
					&cli.BoolFlag{Name: "id-schemes", Usage: "also show each entitlement's ID in both --entitlement-ids schemes, role-id and baton-segment", EnvVars: []string{"BATON_INSPECT_ID_SCHEMES"}}},
				Action: explore(func(c *cli.Context, s *inspect.Snapshot) (*inspect.Table, error) {
					if c.String("entitlement") != "" || c.Bool("id-schemes") {
						return s.EntitlementIDTable(c.String("resource-type"), c.String("resource"), c.String("entitlement"))
					}
					return s.EntitlementTable(c.String("resource-type"), c.String("resource"))
				}),
			},
			{
				Name:  "grants",
				Usage: "list grants: the IDs revoke --grant takes (via: the group membership a grant is held through)",
				Flags: []cli.Flag{inspectFileFlag(), outputFlag(),
					&cli.StringFlag{Name: "entitlement", Usage: "only grants of this entitlement ID", EnvVars: []string{"BATON_INSPECT_ENTITLEMENT"}},
					&cli.StringFlag{Name: "principal", Usage: "only grants to this principal (TYPE:ID, e.g. user:<userId>, or its ID)", EnvVars: []string{"BATON_INSPECT_PRINCIPAL"}}},
				Action: explore(func(c *cli.Context, s *inspect.Snapshot) (*inspect.Table, error) {
					return s.GrantTable(c.String("entitlement"), c.String("principal"))
				}),
			},
			{
				Name:  "access",
				Usage: "what a principal can access (--principal TYPE:ID), or who can access a resource (--resource TYPE:ID), including through groups",
				Flags: []cli.Flag{inspectFileFlag(), outputFlag(),
					&cli.StringFlag{Name: "principal", Usage: "user or group, as TYPE:ID (or its ID)", EnvVars: []string{"BATON_INSPECT_PRINCIPAL"}},
					&cli.StringFlag{Name: "resource", Usage: "any resource, as TYPE:ID (or its ID)", EnvVars: []string{"BATON_INSPECT_RESOURCE"}}},
				Action: explore(func(c *cli.Context, s *inspect.Snapshot) (*inspect.Table, error) {
					p, r := c.String("principal"), c.String("resource")
					switch {
					case p != "" && r != "":
						return nil, fmt.Errorf("give --principal or --resource, not both")
					case p != "":
						return s.AccessOf(p)
					case r != "":
						return s.AccessTo(r)
					}
					return nil, fmt.Errorf("give --principal TYPE:ID (what it can access) or --resource TYPE:ID (who can access it); find IDs with `baton-runner inspect resources`")
				}),
			},
			{
				Name:      "diff",
				Usage:     "resources and grants added and removed between two syncs",
				ArgsUsage: "OLD.c1z NEW.c1z",
				Flags:     []cli.Flag{outputFlag()},
				Action: func(c *cli.Context) error {
					files, output, err := diffArgs(c.Args().Slice(), c.String("output"))
					if err != nil {
						return err
					}
					if err := checkOutput(output); err != nil {
						return err
					}
					old, err := loadC1Z(c, files[0])
					if err != nil {
						return err
					}
					cur, err := loadC1Z(c, files[1])
					if err != nil {
						return err
					}
					return inspect.Diff(old, cur).Write(os.Stdout, output)
				},
			},
		},
	}
}

// loadC1Z reads the c1z at file. One that is not there is most often one
// no sync has written yet, so the error says how to write it.
func loadC1Z(c *cli.Context, file string) (*inspect.Snapshot, error) {
	snap, err := inspect.Load(c.Context, file, "")
	return snap, missingC1Z(file, err)
}

// summarizeC1Z counts the c1z at file without holding it (inspect.Summarize).
func summarizeC1Z(c *cli.Context, file string) (*inspect.Summary, error) {
	sum, err := inspect.Summarize(c.Context, file, "")
	return sum, missingC1Z(file, err)
}

// missingC1Z says how to write a c1z that does not exist.
func missingC1Z(file string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s does not exist: write it with `baton-runner sync -f %s`, or name the c1z of an earlier sync", file, file)
	}
	return err
}

// explore loads the c1z and prints the query's table. The output format is
// checked first, so a typo costs no load.
func explore(query func(*cli.Context, *inspect.Snapshot) (*inspect.Table, error)) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := checkOutput(c.String("output")); err != nil {
			return err
		}
		file, err := inspectFile(c)
		if err != nil {
			return err
		}
		snap, err := loadC1Z(c, file)
		if err != nil {
			return err
		}
		t, err := query(c, snap)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		return t.Write(os.Stdout, c.String("output"))
	}
}

func checkOutput(f string) error {
	for _, ok := range inspect.Formats {
		if f == ok {
			return nil
		}
	}
	return fmt.Errorf("--output must be one of %s, not %q", strings.Join(inspect.Formats, ", "), f)
}

// inspectFile is the c1z to read: --file given here or on `inspect`, or one
// positional FILE.c1z, which is never silently ignored. A positional file
// wins over BATON_FILE from the environment, but not over --file.
func inspectFile(c *cli.Context) (string, error) {
	explicit := func(c *cli.Context) bool {
		env, ok := os.LookupEnv("BATON_FILE")
		return c.IsSet("file") && !(ok && c.String("file") == env)
	}
	file := c.String("file")
	set := explicit(c)
	if !set {
		for _, p := range c.Lineage()[1:] {
			if explicit(p) {
				file, set = p.String("file"), true
				break
			}
		}
	}
	switch n := c.NArg(); {
	case n == 1 && !set:
		return c.Args().First(), nil
	case n == 1:
		return "", fmt.Errorf("give the c1z once: as an argument (%s) or with --file (%s), not both", c.Args().First(), file)
	case n > 1:
		return "", fmt.Errorf("unexpected arguments %q: give one c1z file, and options before it", c.Args().Slice())
	}
	return file, nil
}

func printSummary(c *cli.Context, file string) error {
	sum, err := summarizeC1Z(c, file)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "%s (sync %s)\n", file, sum.SyncID)
	return sum.Write(os.Stdout)
}

// diffArgs takes the two files of inspect diff, and -o/--output after them
// too (the CLI library parses options only before arguments, but
// `inspect diff a.c1z b.c1z -o json` is how people type it).
func diffArgs(args []string, output string) (files []string, out string, err error) {
	out = output
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" || a == "--output":
			if i+1 == len(args) {
				return nil, "", fmt.Errorf("%s needs a value: table, json or csv", a)
			}
			out = args[i+1]
			i++
		case strings.HasPrefix(a, "-o=") || strings.HasPrefix(a, "--output="):
			out = a[strings.IndexByte(a, '=')+1:]
		default:
			files = append(files, a)
		}
	}
	if len(files) != 2 {
		return nil, "", fmt.Errorf("inspect diff takes two c1z files, the older first: inspect diff OLD.c1z NEW.c1z (got %d)", len(files))
	}
	return files, out, nil
}
