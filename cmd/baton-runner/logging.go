package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"BATON_LOG_LEVEL"}},
		&cli.StringFlag{Name: "log-format", Usage: "json or console (default: console on a terminal, else json)", EnvVars: []string{"BATON_LOG_FORMAT"}},
	}
}

// isTerminal reports whether f is a character device, i.e. a person is
// probably watching.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newLogger builds the process logger from --log-level and --log-format.
func newLogger(c *cli.Context) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.String("log-level"))
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	format := c.String("log-format")
	if format == "" {
		format = "json"
		if isTerminal(os.Stderr) {
			format = "console"
		}
	}
	var cfg zap.Config
	switch format {
	case "json":
		cfg = zap.NewProductionConfig()
		// An error line says what failed and why; a stack trace of the
		// host's supervisor loop adds nothing an operator can use.
		cfg.DisableStacktrace = true
	case "console":
		cfg = zap.NewDevelopmentConfig()
		cfg.DisableStacktrace = true
	default:
		return nil, fmt.Errorf("--log-format must be json or console, not %q", format)
	}
	cfg.Level = zap.NewAtomicLevelAt(level)
	// zap's production sampling keeps only the first 100 lines a second
	// with the same message: it dropped two thirds of the "egress" audit
	// records of a sync. An audit trail must be complete, and the one
	// flood sampling guarded against, guest logs, has its own budget in
	// the sandbox (MaxLogBytes).
	cfg.Sampling = nil
	cfg.DisableCaller = true
	logger, err := cfg.Build()
	if err != nil {
		return nil, err
	}
	// Libraries under baton-sdk (pebble) print through the standard
	// logger; keep their chatter structured and out of sight by default.
	if _, err := zap.RedirectStdLogAt(logger, zapcore.DebugLevel); err != nil {
		return nil, err
	}
	return logger, nil
}
