package main

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/baton-runner/baton-runner/config"
	"github.com/baton-runner/baton-runner/host/sandbox"
)

// prepared is the --module guest, compiled before the command line is
// parsed; nil when the command runs the embedded guest or none.
var prepared *preparedGuest

// preparedGuest is a guest compiled ahead of its command, which takes it
// (compileModule) rather than compile it a second time: a baton-sdk
// guest's compilation takes seconds even from the cache.
type preparedGuest struct {
	key      moduleKey
	module   *sandbox.Module // nil once taken
	batonSDK bool
	schema   config.Schema // of a baton-sdk guest
}

// moduleKey is what a compiled module depends on.
type moduleKey struct {
	path, cacheDir string
	memoryMiB      int
	callTimeout    time.Duration
}

// take returns the prepared module if it was compiled as key asks, and
// closes it otherwise.
func (g *preparedGuest) take(ctx context.Context, key moduleKey) *sandbox.Module {
	if g == nil || g.module == nil {
		return nil
	}
	m := g.module
	g.module = nil
	if g.key != key {
		_ = m.Close(ctx)
		return nil
	}
	return m
}

// prepareGuest compiles the guest the command line of app names with
// --module (or BATON_MODULE) when the command runs one, and, for a
// baton-sdk guest, adds its fields to the commands' flags. An error is
// the module's: the command would fail on it too.
func prepareGuest(ctx context.Context, app *cli.App, args []string) (*preparedGuest, error) {
	cmd, given := scanArgs(app, args)
	if !slices.Contains(connectorCommands, cmd) {
		return nil, nil
	}
	setting := func(name string) (string, bool) {
		if v, ok := given[name]; ok {
			return v, true
		}
		return os.LookupEnv("BATON_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
	}
	path, _ := setting("module")
	if path == "" {
		return nil, nil
	}
	key := moduleKey{path: path, memoryMiB: sandbox.DefaultMemoryLimitMiB, callTimeout: sandbox.DefaultCallTimeout}
	key.cacheDir, _ = setting("cache-dir")
	if v, ok := setting("memory-limit-mib"); ok {
		// A value that does not parse is the command's to refuse; the
		// prepared module then does not match and is not used.
		key.memoryMiB, _ = strconv.Atoi(v)
	}
	if v, ok := setting("call-timeout"); ok {
		key.callTimeout, _ = time.ParseDuration(v)
	}
	format, _ := setting("log-format")
	m, err := compileKey(ctx, key, prepareLogger(format))
	if err != nil {
		return nil, err
	}
	g := &preparedGuest{key: key, module: m}
	if m.Kind() == sandbox.GuestBatonSDK {
		g.batonSDK = true
		if g.schema, err = config.ParseSchema(m.BatonSDKSchema()); err != nil {
			_ = m.Close(ctx)
			return nil, err
		}
		addConnectorFlags(app, g.schema)
	}
	return g, nil
}

// prepareLogger receives what the sandbox says while it compiles, before
// the command's logger exists: warnings and errors, on stderr, in the
// format the command asks for.
func prepareLogger(format string) *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	if format == "console" || (format == "" && isTerminal(os.Stderr)) {
		enc = zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	}
	return zap.New(zapcore.NewCore(enc, stderr, zapcore.WarnLevel))
}

// scanArgs walks args as urfave/cli will parse them, with app's flags:
// it returns the command they run ("" for the bare command) and the
// values of the flags given, by name, a later one over an earlier.
func scanArgs(app *cli.App, args []string) (string, map[string]string) {
	given := map[string]string{}
	flags, cmds, cmd := app.Flags, app.Commands, ""
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if len(a) > 1 && a[0] == '-' {
			name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			f := findFlag(flags, name)
			if f == nil {
				continue
			}
			if _, isBool := f.(*cli.BoolFlag); !hasValue && !isBool {
				if i++; i < len(args) {
					value = args[i]
				}
			}
			given[f.Names()[0]] = value
			continue
		}
		sub := findCommand(cmds, a)
		if sub == nil {
			break // an argument: flags end here, as in urfave/cli
		}
		flags, cmds = sub.Flags, sub.Subcommands
		if cmd == "" {
			cmd = sub.Name
		} else {
			cmd += " " + sub.Name
		}
	}
	return cmd, given
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name || slices.Contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}
