package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary a helper process instead: "parent"
// starts a "burn" child and exits without waiting for it, as baton-sdk's
// runner may leave its connector subprocess; "burn" spends burnCPU of CPU.
const helperEnv = "RUNBENCH_TEST_HELPER"

const burnCPU = 300 * time.Millisecond

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "parent":
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), helperEnv+"=burn")
		if err := cmd.Start(); err != nil {
			os.Exit(2)
		}
		os.Exit(0)
	case "burn":
		for selfCPU() < burnCPU {
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestRunTreeCountsWhatTheChildLeftBehind: the CPU of a child's child
// that outlives it is counted, which the child's rusage alone lacks.
func TestRunTreeCountsWhatTheChildLeftBehind(t *testing.T) {
	if err := becomeSubreaper(); err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=parent")
	ts, err := runTree(cmd, func(time.Time) {})
	if err != nil {
		t.Fatal(err)
	}
	if ts.CPU() < burnCPU {
		t.Errorf("%s of CPU, want the orphan's %s at least", ts.CPU(), burnCPU)
	}
}

// TestRunTreeFailure: a failed child is an error holding its stderr.
func TestRunTreeFailure(t *testing.T) {
	if err := becomeSubreaper(); err != nil {
		t.Skip(err)
	}
	_, err := runTree(exec.Command("sh", "-c", "echo the reason >&2; exit 3"), func(time.Time) {})
	if err == nil || !strings.Contains(err.Error(), "the reason") {
		t.Fatalf("runTree of a failing child: %v, want its stderr", err)
	}
}
