package main

import (
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"BATON_LOG_LEVEL"}},
		&cli.StringFlag{Name: "log-format", Usage: "json or console (default: console on a terminal, else json)", EnvVars: []string{"BATON_LOG_FORMAT"}},
		batonFlag("log-path", "also append the log to this file (repeatable)"),
		&cli.DurationFlag{Name: "progress-interval", Value: 10 * time.Second, Usage: "when stderr is not a terminal, how often a sync logs its progress (and at each phase)", EnvVars: []string{"BATON_PROGRESS_INTERVAL"}},
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
	var enc zapcore.Encoder
	switch format {
	case "json":
		enc = zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	case "console":
		enc = zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	default:
		return nil, fmt.Errorf("--log-format must be json or console, not %q", format)
	}
	// Built by hand rather than from zap's presets: their sampling keeps
	// only the first 100 lines a second with the same message, which
	// dropped two thirds of the "egress" audit records of a sync (an audit
	// trail must be complete; guest logs, the flood sampling guarded
	// against, have their own budget in the sandbox), and their stack
	// traces on error lines show the host's loops, nothing an operator can
	// use. Lines go through stderr, which keeps them above a terminal's
	// progress line.
	cores := []zapcore.Core{zapcore.NewCore(enc, stderr, level)}
	for _, path := range c.StringSlice("log-path") {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--log-path: %w", err)
		}
		// The file is closed when the process exits.
		cores = append(cores, zapcore.NewCore(enc.Clone(), zapcore.Lock(f), level))
	}
	logger := zap.New(zapcore.NewTee(cores...), zap.ErrorOutput(zapcore.Lock(os.Stderr)))
	// Libraries under baton-sdk (pebble) print through the standard
	// logger; keep their chatter structured and out of sight by default.
	if _, err := zap.RedirectStdLogAt(logger, zapcore.DebugLevel); err != nil {
		return nil, err
	}
	return logger, nil
}
