package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain lets a test run this binary's main with its own arguments: the
// test executable re-runs itself with REALTIME_RUN_MAIN set. Otherwise it
// runs the tests and fails the run on a goroutine a test left behind.
func TestMain(m *testing.M) {
	if os.Getenv("REALTIME_RUN_MAIN") != "" {
		os.Args = append([]string{"realtime"}, strings.Fields(os.Getenv("REALTIME_RUN_MAIN_ARGS"))...)
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func runMain(t *testing.T, args string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// Only what the command needs: no JWT secret, nothing from the caller.
	cmd.Env = []string{"REALTIME_RUN_MAIN=1", "REALTIME_RUN_MAIN_ARGS=" + args, "PATH=" + os.Getenv("PATH")}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestBareCommandPointsToDemoAndHelp(t *testing.T) {
	_, stderr, code := runMain(t, "")
	if code != 1 || !strings.Contains(stderr, "JWT secret is missing") || !strings.Contains(stderr, "realtime demo") || !strings.Contains(stderr, "realtime --help") {
		t.Errorf("bare realtime without a secret: exit %d, stderr:\n%s\nwant exit 1, the error and pointers to demo and --help", code, stderr)
	}
	_, stderr, _ = runMain(t, "serve")
	if strings.Contains(stderr, "--help") {
		t.Errorf("explicit serve should not get the bare-command hint:\n%s", stderr)
	}
}

func TestUsageListsEveryCommand(t *testing.T) {
	stdout, _, code := runMain(t, "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, cmd := range []string{"serve", "demo", "health", "version"} {
		if !strings.Contains(stdout, "\n"+cmd+" ") {
			t.Errorf("usage has no line for %s:\n%s", cmd, stdout)
		}
		if cmd == "version" {
			if out, _, code := runMain(t, cmd); code != 0 || strings.TrimSpace(out) != version {
				t.Errorf("version: exit %d, %q", code, out)
			}
		}
	}
}
