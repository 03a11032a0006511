package localpg_test

import (
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgrealtime/realtime/test/localpg/pgtest"
)

var suite pgtest.Suite

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &suite)) }

func TestClusterIsLogical(t *testing.T) {
	url := suite.Database(t)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var level string
	if err := conn.QueryRow(t.Context(), "SHOW wal_level").Scan(&level); err != nil {
		t.Fatal(err)
	}
	if level != "logical" {
		t.Fatalf("wal_level = %q, want logical", level)
	}
}

func TestRestartKeepsData(t *testing.T) {
	url := suite.Database(t)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "CREATE TABLE kept(x int); INSERT INTO kept VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(t.Context())
	suite.Cluster.Stop()
	if err := suite.Cluster.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	conn, err = pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var x int
	if err := conn.QueryRow(t.Context(), "SELECT x FROM kept").Scan(&x); err != nil || x != 7 {
		t.Fatalf("after restart: x=%d err=%v", x, err)
	}
}
