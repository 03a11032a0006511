package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
)

// database is one test's own database, with a connection for its SQL.
type database struct {
	url  string
	conn *pgx.Conn
}

// newDatabase creates a fresh database on the suite's cluster, loads
// the demo's status-board schema (cmd/realtime/statusboard.sql, the
// article's) and then each of extraSQL.
func newDatabase(t *testing.T, extraSQL ...string) *database {
	t.Helper()
	url := suite.Database(t)
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	// t.Context is already cancelled when cleanups run.
	t.Cleanup(func() { conn.Close(context.Background()) })
	seed, err := os.ReadFile(filepath.Join("..", "..", "cmd", "realtime", "statusboard.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db := &database{url: url, conn: conn}
	for _, sql := range append([]string{string(seed)}, extraSQL...) {
		db.exec(t, sql)
	}
	return db
}

// exec runs one statement (or, without args, a script) in its own
// transaction.
func (d *database) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := d.conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// queryRow runs a query that returns one row and scans it into dst.
func (d *database) queryRow(t *testing.T, dst []any, sql string, args ...any) {
	t.Helper()
	if err := d.conn.QueryRow(t.Context(), sql, args...).Scan(dst...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
