package localpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns a missing PostgreSQL
// into a test failure instead of a skip. CI sets it, so CI never skips.
const RequireEnv = "REALTIME_REQUIRE_PG"

// Suite is the cluster shared by the tests of one package.
type Suite struct {
	Cluster *Cluster
	err     error
}

// Main starts one cluster for a test package, runs its tests and removes the
// cluster. Call it from TestMain: os.Exit(localpg.Main(m, &suite)).
func Main(m *testing.M, s *Suite) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c, err := Start(ctx)
	cancel()
	if err != nil {
		s.err = err
		if !errors.Is(err, ErrNoBinaries) || os.Getenv(RequireEnv) != "" {
			fmt.Fprintf(os.Stderr, "localpg: cannot start PostgreSQL: %v\n", err)
			return 1
		}
		return m.Run()
	}
	s.Cluster = c
	defer c.Close()
	return m.Run()
}

// Database skips the test when PostgreSQL binaries are absent; otherwise it
// creates a fresh database on the shared cluster and returns its URL.
func (s *Suite) Database(t testing.TB) string {
	t.Helper()
	if s.Cluster == nil {
		t.Skipf("PostgreSQL is not available: %v", s.err)
	}
	name, err := s.Cluster.CreateDatabase(t.Context(), t.Name())
	if err != nil {
		t.Fatalf("create database: %v", err)
	}
	return s.Cluster.ConnString(name)
}
