package replication

import (
	"reflect"
	"testing"
	"time"
)

func TestTable(t *testing.T) {
	t.Parallel()
	db := newDB(t,
		"CREATE TABLE items (id int8 PRIMARY KEY, name varchar(255), tags text[], total int GENERATED ALWAYS AS (id * 2) STORED)",
		"CREATE TABLE full_items (id int PRIMARY KEY, v text)",
		"ALTER TABLE full_items REPLICA IDENTITY FULL",
		"CREATE TABLE private (id int)",
		`CREATE SCHEMA "Odd"`,
		`CREATE TABLE "Odd"."Mixed Case" (x int)`,
		"CREATE PUBLICATION supabase_realtime FOR TABLE items, full_items, \"Odd\".\"Mixed Case\"")
	r := start(t, Config{ConnString: db.url}, 16)
	ctx := t.Context()

	info, err := r.s.Table(ctx, "public", "items")
	if err != nil {
		t.Fatal(err)
	}
	want := TableInfo{Exists: true, InPublication: true, Columns: []Column{
		{Name: "id", Type: "int8", TypeOID: 20, TypeModifier: -1, Key: true},
		{Name: "name", Type: "varchar", TypeOID: 1043, TypeModifier: 259},
		{Name: "tags", Type: "_text", TypeOID: 1009, TypeModifier: -1},
	}}
	if !reflect.DeepEqual(info, want) {
		t.Errorf("Table(items) = %+v, want %+v", info, want)
	}
	if info, err := r.s.Table(ctx, "public", "full_items"); err != nil || !info.Columns[0].Key || !info.Columns[1].Key {
		t.Errorf("Table(full_items) = %+v, %v; want every column a key", info, err)
	}
	if info, err := r.s.Table(ctx, "Odd", "Mixed Case"); err != nil || !info.Exists || !info.InPublication || info.Columns[0].Name != "x" {
		t.Errorf(`Table("Odd", "Mixed Case") = %+v, %v`, info, err)
	}
	if info, err := r.s.Table(ctx, "public", "private"); err != nil || !info.Exists || info.InPublication {
		t.Errorf("Table(private) = %+v, %v; want existing, not in publication", info, err)
	}
	if info, err := r.s.Table(ctx, "public", "missing"); err != nil || info.Exists || info.Columns != nil {
		t.Errorf("Table(missing) = %+v, %v; want Exists false", info, err)
	}

	// A new shape announced by PostgreSQL invalidates the cached answer at
	// once, without waiting for the cache to expire.
	db.exec(t, "ALTER TABLE items ADD COLUMN note text")
	db.exec(t, "INSERT INTO items (id, name) VALUES (1, 'a')")
	r.tx()
	info, err = r.s.Table(ctx, "public", "items")
	if err != nil || len(info.Columns) != 4 || info.Columns[3].Name != "note" {
		t.Errorf("Table(items) after ALTER = %+v, %v; want the new column", info, err)
	}

	r.stop()
	if _, err := r.s.Table(ctx, "public", "nothing_cached"); err == nil {
		t.Errorf("Table after Run returned: no error")
	}
}

// TestIdleSlotAdvances writes only to an unpublished table: with nothing
// outstanding, the stream confirms the server's WAL end, so the slot does
// not hold WAL back.
func TestIdleSlotAdvances(t *testing.T) {
	t.Parallel()
	db := newDB(t, "CREATE TABLE t (id int)", "CREATE TABLE other (id int)",
		"CREATE PUBLICATION supabase_realtime FOR TABLE t")
	r := start(t, Config{ConnString: db.url, SlotName: "idle_slot", StatusInterval: 200 * time.Millisecond}, 16)
	db.exec(t, "INSERT INTO t VALUES (1)")
	_, c := r.tx()
	r.s.Confirm(c.CommitLSN)
	db.exec(t, "INSERT INTO other SELECT generate_series(1, 1000)")
	target := lsnOf(t, db, "SELECT pg_current_wal_lsn()::text")
	eventually(t, 30*time.Second, "the slot to pass the unpublished writes", func() bool {
		db.exec(t, "INSERT INTO other VALUES (0)") // keeps the server sending keepalives
		return lsnOf(t, db, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'idle_slot'") >= target
	})
	if st := r.s.Status(); st.ConfirmedLSN < target {
		t.Errorf("Status().ConfirmedLSN = %s, want ≥ %s", st.ConfirmedLSN, target)
	}
}
