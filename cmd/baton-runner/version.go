package main

import (
	"runtime/debug"
	"strings"
)

// version is what the Makefile stamps with -ldflags "-X main.version=…":
// `git describe --always --dirty` of the checkout it built.
var version string

// buildVersion is what --version prints: the stamped version, else the
// module version and VCS revision the Go toolchain recorded (go install
// of a tagged module, or a build in a git checkout with VCS stamping on),
// else "dev".
func buildVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return describeVersion(version, bi)
}

func describeVersion(stamp string, bi *debug.BuildInfo) string {
	var module, revision, built string
	modified := false
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			module = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "vcs.time":
				built = s.Value
			}
		}
	}
	v := stamp
	if v == "" {
		v = module
	}
	if v == "" && revision != "" {
		v = revision[:min(12, len(revision))]
		if modified {
			v += "-dirty"
		}
	}
	if v == "" {
		v = "dev"
	}
	var details []string
	if module != "" && module != v {
		details = append(details, "module "+module)
	}
	if revision != "" && !strings.HasPrefix(v, revision[:min(12, len(revision))]) {
		r := "revision " + revision
		if modified {
			r += " (modified)"
		}
		details = append(details, r)
	}
	if built != "" {
		details = append(details, "committed "+built)
	}
	if bi != nil && bi.GoVersion != "" {
		details = append(details, bi.GoVersion)
	}
	if len(details) == 0 {
		return v
	}
	return v + " (" + strings.Join(details, ", ") + ")"
}
