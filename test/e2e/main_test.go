// Package e2e holds the end-to-end tests of the v1 protocol: the real gateway
// binary, a real PostgreSQL (test/localpg) and the real
// @supabase/realtime-js 1.7.5 client under Node (test/js/v1client.mjs).
//
// Every test gets its own database and its own gateway process, so the tests
// run in parallel. TestMain installs the pinned npm packages when needed
// (npm ci) and builds the gateway once, so `go test ./...` is enough on a
// fresh machine with Go, Node.js and PostgreSQL's server binaries:
//
//	go test -race -count=1 ./test/e2e/ -v
//
// Without node the tests skip, unless REALTIME_REQUIRE_PG is set (CI): then
// they fail.
package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/pgrealtime/realtime/test/harness"
	"github.com/pgrealtime/realtime/test/localpg"
	"github.com/pgrealtime/realtime/test/localpg/pgtest"
)

var (
	suite      pgtest.Suite
	gatewayBin string // the gateway binary, built once for the package
	jsDir      string // test/js, with v1client.mjs and its node_modules
	skipNode   string // why the tests skip: node is not installed
)

// TestMain builds what the tests drive, then runs them with pgtest.Main,
// which also fails the run on a goroutine left behind.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if jsDir, err = filepath.Abs(filepath.Join("..", "js")); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	switch err := installClients(jsDir); {
	case errors.Is(err, exec.ErrNotFound) && os.Getenv(localpg.RequireEnv) == "":
		skipNode = fmt.Sprintf("node is not installed (%v); install Node.js 20 to run the realtime-js tests", err)
	case errors.Is(err, exec.ErrNotFound):
		fmt.Fprintf(os.Stderr, "e2e: node is not installed and %s is set: %v\n", localpg.RequireEnv, err)
		return 1
	case err != nil:
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "realtime-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if gatewayBin, err = buildGateway(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if skipNode != "" {
		return m.Run() // every test skips: no PostgreSQL needed
	}
	return pgtest.Main(m, &suite)
}

// installClients installs the pinned clients with npm ci when needed. The
// error wraps exec.ErrNotFound when node is not installed.
func installClients(dir string) error {
	if _, err := exec.LookPath("node"); err != nil {
		return err
	}
	return harness.NPMInstall(dir)
}

// buildGateway builds the gateway into dir. When the tests run under -race
// the gateway is built with -race too, so races in the gateway show up in
// the end-to-end runs (startGateway fails the test on a race report).
func buildGateway(dir string) (string, error) { return harness.Build(dir, raceEnabled()) }

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// setup gives a test its own database (the status board, then extraSQL) and its own
// gateway on it. It skips when node or PostgreSQL is missing.
func setup(t *testing.T, extraSQL ...string) (*database, *gateway) {
	t.Helper()
	if skipNode != "" {
		t.Skip(skipNode)
	}
	db := newDatabase(t, extraSQL...)
	return db, startGateway(t, db.url)
}
