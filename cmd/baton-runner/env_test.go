package main

import (
	"strings"
	"testing"
)

// helpSections splits `--help` output into its command names and its flag
// lines.
func helpSections(out string) (commands, flags []string) {
	section := ""
	for _, line := range strings.Split(out, "\n") {
		if line != "" && !strings.HasPrefix(line, " ") {
			section = strings.TrimSuffix(line, ":")
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch section {
		case "COMMANDS":
			if name := strings.TrimSuffix(f[0], ","); name != "help" {
				commands = append(commands, name)
			}
		case "GLOBAL OPTIONS", "OPTIONS":
			if strings.HasPrefix(f[0], "-") {
				flags = append(flags, strings.TrimSpace(line))
			}
		}
	}
	return commands, flags
}

// TestEveryFlagHasABatonVariable walks the real binary's help, every
// command and subcommand, and wants a BATON_* variable on every flag, as
// baton connectors have (containers are configured through the
// environment).
func TestEveryFlagHasABatonVariable(t *testing.T) {
	dir := t.TempDir()
	var walk func(path []string)
	seen := 0
	walk = func(path []string) {
		res := run(t, dir, nil, append(path, "--help")...)
		if res.code != 0 {
			t.Fatalf("%v --help exited %d: %s", path, res.code, res.stderr)
		}
		commands, flags := helpSections(res.stdout)
		for _, f := range flags {
			seen++
			if strings.HasPrefix(f, "--help") || strings.HasPrefix(f, "--version") {
				continue
			}
			if !strings.Contains(f, "[$BATON_") {
				t.Errorf("baton-runner %s: %s has no BATON_* variable", strings.Join(path, " "), strings.Fields(f)[0])
			}
		}
		for _, c := range commands {
			walk(append(append([]string{}, path...), c))
		}
	}
	walk(nil)
	if seen < 50 {
		t.Errorf("only %d flags found in the help; has its layout changed?", seen)
	}
}
