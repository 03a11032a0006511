package replication

import (
	"strings"
	"testing"
)

func TestAfterConnect(t *testing.T) {
	t.Parallel()
	db := newDB(t,
		"CREATE TABLE items (id int PRIMARY KEY)",
		"CREATE PUBLICATION supabase_realtime FOR TABLE items")
	// As Supabase's compose sets it, plus a marker we can see from outside.
	cat := NewCatalogConfig(Config{ConnString: db.url,
		AfterConnect: "SET search_path TO _realtime; SET application_name TO 'after_connect_probe'"})
	t.Cleanup(cat.Close)
	info, err := cat.Table(t.Context(), "public", "items")
	if err != nil || !info.Exists || !info.InPublication {
		t.Fatalf("Table(items) with search_path _realtime = %+v, %v", info, err)
	}
	var n int
	if err := db.conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'after_connect_probe' AND datname = current_database()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no catalog connection ran the after-connect query")
	}

	bad := NewCatalogConfig(Config{ConnString: db.url, AfterConnect: "SET search_path TO"})
	t.Cleanup(bad.Close)
	if _, err := bad.Table(t.Context(), "public", "items"); err == nil || !strings.Contains(err.Error(), "DB_AFTER_CONNECT_QUERY") {
		t.Fatalf("Table with a broken after-connect query: %v, want an error naming DB_AFTER_CONNECT_QUERY", err)
	}
}
