// Package pgtest gives a test package one throwaway PostgreSQL cluster
// (see localpg) and a fresh database per test. It is the half of localpg
// that imports testing, kept apart so that the demo in the shipped binary,
// which starts a cluster with localpg, links no test code.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pgrealtime/realtime/test/localpg"
)

// Suite is the cluster shared by the tests of one package.
type Suite struct {
	Cluster *localpg.Cluster
	err     error
}

// Main starts one cluster for a test package, runs its tests, removes the
// cluster and, when the tests passed, fails the run if a test left a
// goroutine behind (a pool, stream or socket not closed). Call it from
// TestMain: os.Exit(pgtest.Main(m, &suite)).
func Main(m *testing.M, s *Suite) int {
	code := run(m, s)
	if code == 0 {
		if err := Leaked(10 * time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests: %v\n", err)
			code = 1
		}
	}
	return code
}

// Leaked gives goroutines up to wait to end and describes those left:
// pools and streams wind down after their test returns, and goleak.Find
// alone retries for about half a second.
func Leaked(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := goleak.Find()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func run(m *testing.M, s *Suite) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c, err := localpg.Start(ctx)
	cancel()
	if err != nil {
		s.err = err
		if !errors.Is(err, localpg.ErrNoBinaries) || os.Getenv(localpg.RequireEnv) != "" {
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
