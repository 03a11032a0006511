package replication

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const pubAll = "CREATE PUBLICATION supabase_realtime FOR ALL TABLES"

func TestStreamRowChanges(t *testing.T) {
	t.Parallel()
	db := newDB(t, "CREATE TABLE items (id int8 PRIMARY KEY, name varchar(255), qty int4, note text)", pubAll)
	r := start(t, Config{ConnString: db.url}, 16)

	db.exec(t, "INSERT INTO items VALUES (1, 'apple', 3, NULL)")
	db.exec(t, "UPDATE items SET qty = 4 WHERE id = 1")
	db.exec(t, "DELETE FROM items WHERE id = 1")
	db.exec(t, "TRUNCATE items")

	want := []struct {
		op       Op
		new, old []string
	}{
		{Insert, []string{"1", "apple", "3", "<null>"}, nil},
		{Update, []string{"1", "apple", "4", "<null>"}, nil},
		{Delete, nil, []string{"1", "<null>", "<null>", "<null>"}},
		{Truncate, nil, nil},
	}
	var prevCommit Batch
	for i, w := range want {
		changes, commit := r.tx()
		if len(changes) != 1 {
			t.Fatalf("tx %d: %d changes, want 1", i, len(changes))
		}
		ch := changes[0]
		if ch.Op != w.op || ch.Rel.Schema != "public" || ch.Rel.Table != "items" {
			t.Errorf("tx %d: %v %s.%s, want %v public.items", i, ch.Op, ch.Rel.Schema, ch.Rel.Table, w.op)
		}
		if got := texts(ch.New); !reflect.DeepEqual(got, w.new) {
			t.Errorf("tx %d: New = %q, want %q", i, got, w.new)
		}
		if got := texts(ch.Old); !reflect.DeepEqual(got, w.old) {
			t.Errorf("tx %d: Old = %q, want %q", i, got, w.old)
		}
		if age := time.Since(ch.CommitTime); ch.CommitTime.IsZero() || age < -time.Minute || age > time.Minute {
			t.Errorf("tx %d: CommitTime %v is not close to now", i, ch.CommitTime)
		}
		if !ch.CommitTime.Equal(commit.CommitTime) || commit.Gap {
			t.Errorf("tx %d: commit batch %+v", i, commit)
		}
		if ch.LSN == 0 || ch.LSN >= commit.CommitLSN || commit.CommitLSN <= prevCommit.CommitLSN {
			t.Errorf("tx %d: change LSN %s, commit LSN %s after %s", i, ch.LSN, commit.CommitLSN, prevCommit.CommitLSN)
		}
		prevCommit = commit
		r.s.Confirm(commit.CommitLSN)
	}
	wantCols := []Column{
		{Name: "id", Type: "int8", TypeOID: 20, TypeModifier: -1, Key: true},
		{Name: "name", Type: "varchar", TypeOID: 1043, TypeModifier: 259},
		{Name: "qty", Type: "int4", TypeOID: 23, TypeModifier: -1},
		{Name: "note", Type: "text", TypeOID: 25, TypeModifier: -1},
	}
	st := r.s.Status()
	if !st.Live || !st.Temporary || !strings.HasPrefix(st.Slot, "realtime_tmp_") || st.ReceivedLSN < prevCommit.CommitLSN {
		t.Errorf("Status() = %+v", st)
	}
	// Columns come from the last relation seen.
	db.exec(t, "INSERT INTO items VALUES (2, 'pear', 1, 'x')")
	changes, _ := r.tx()
	if got := changes[0].Rel.Columns; !reflect.DeepEqual(got, wantCols) {
		t.Errorf("columns = %+v, want %+v", got, wantCols)
	}
	if changes[0].Rel.ReplicaIdentity != 'd' {
		t.Errorf("ReplicaIdentity = %q, want 'd'", changes[0].Rel.ReplicaIdentity)
	}
}

func TestStreamReplicaIdentity(t *testing.T) {
	t.Parallel()
	db := newDB(t,
		"CREATE TABLE d (id int8 PRIMARY KEY, v text, w int4)",
		"CREATE TABLE f (id int8 PRIMARY KEY, v text, w int4)",
		"ALTER TABLE f REPLICA IDENTITY FULL",
		pubAll)
	r := start(t, Config{ConnString: db.url}, 16)
	db.exec(t, "INSERT INTO d VALUES (1, 'a', 1); INSERT INTO f VALUES (1, 'a', 1)")
	if changes, _ := r.tx(); len(changes) != 2 {
		t.Fatalf("insert: %d changes", len(changes))
	}
	tests := []struct {
		sql      string
		old, new []string
		oldIsKey bool
	}{
		{"UPDATE d SET v = 'b'", nil, []string{"1", "b", "1"}, false},
		{"UPDATE d SET id = 2", []string{"1", "<null>", "<null>"}, []string{"2", "b", "1"}, true},
		{"DELETE FROM d", []string{"2", "<null>", "<null>"}, nil, true},
		{"UPDATE f SET v = 'b'", []string{"1", "a", "1"}, []string{"1", "b", "1"}, false},
		{"DELETE FROM f", []string{"1", "b", "1"}, nil, false},
	}
	for _, tc := range tests {
		db.exec(t, tc.sql)
		changes, _ := r.tx()
		if len(changes) != 1 {
			t.Fatalf("%s: %d changes", tc.sql, len(changes))
		}
		ch := changes[0]
		if got := texts(ch.Old); !reflect.DeepEqual(got, tc.old) || ch.OldIsKey != tc.oldIsKey {
			t.Errorf("%s: Old = %q (key %v), want %q (key %v)", tc.sql, got, ch.OldIsKey, tc.old, tc.oldIsKey)
		}
		if got := texts(ch.New); !reflect.DeepEqual(got, tc.new) {
			t.Errorf("%s: New = %q, want %q", tc.sql, got, tc.new)
		}
		full := ch.Rel.Table == "f"
		for _, c := range ch.Rel.Columns {
			if c.Key != (full || c.Name == "id") {
				t.Errorf("%s: column %s Key = %v", tc.sql, c.Name, c.Key)
			}
		}
	}
}

func TestStreamUnchangedToast(t *testing.T) {
	t.Parallel()
	db := newDB(t,
		"CREATE TABLE docs_full (id int PRIMARY KEY, n int, body text)",
		"ALTER TABLE docs_full REPLICA IDENTITY FULL",
		"CREATE TABLE docs_default (id int PRIMARY KEY, n int, body text)",
		pubAll)
	r := start(t, Config{ConnString: db.url}, 16)
	// 200 kB of md5 hex: well past the 2 kB TOAST threshold, and hard to compress.
	big := "(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 6400) i)"
	db.exec(t, "INSERT INTO docs_full VALUES (1, 0, "+big+")")
	db.exec(t, "INSERT INTO docs_default VALUES (1, 0, "+big+")")
	ins, _ := r.tx()
	r.tx()
	body := ins[0].New[2].Text
	if len(body) != 6400*32 {
		t.Fatalf("inserted body has %d bytes", len(body))
	}

	db.exec(t, "UPDATE docs_full SET n = 1")
	changes, _ := r.tx()
	if got := changes[0].New[2]; got.State != Text || got.Text != body {
		t.Errorf("FULL: New body state %v, %d bytes; want the whole value from the old row", got.State, len(got.Text))
	}
	if got := changes[0].New[1].Text; got != "1" {
		t.Errorf("FULL: New n = %q", got)
	}

	db.exec(t, "UPDATE docs_default SET n = 1")
	changes, _ = r.tx()
	if got := changes[0].New[2].State; got != Unchanged {
		t.Errorf("DEFAULT: New body state = %v, want Unchanged", got)
	}
}

func TestStreamTypes(t *testing.T) {
	t.Parallel()
	db := newDB(t,
		"CREATE TYPE mood AS ENUM ('sad', 'happy')",
		`CREATE TABLE kinds (id int2 PRIMARY KEY, i4 int4, i8 int8, num numeric(10,2), f8 float8, b bool, t text,
			u uuid, j json, jb jsonb, ts timestamp, tstz timestamptz, d date, ai int4[], at text[], by bytea,
			m mood, ma mood[], mo money, tz timetz)`,
		pubAll)
	r := start(t, Config{ConnString: db.url}, 16)
	db.exec(t, `INSERT INTO kinds VALUES (1, 2, 3, 12.5, 1.5, true, 'hi', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
		'{"a":1}', '{"a":1}', '2021-02-16 23:47:47.51613', '2021-02-16 23:47:47.51613+00', '2021-02-16',
		'{1,2,3}', '{a,"b c"}', '\x0102', 'happy', '{sad,happy}', 1.5, '12:00:00+02')`)
	changes, _ := r.tx()
	ch := changes[0]
	want := []struct{ typ, val string }{
		{"int2", "1"}, {"int4", "2"}, {"int8", "3"}, {"numeric", "12.50"}, {"float8", "1.5"}, {"bool", "t"}, {"text", "hi"},
		{"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}, {"json", `{"a":1}`}, {"jsonb", `{"a": 1}`},
		{"timestamp", "2021-02-16 23:47:47.51613"}, {"timestamptz", "2021-02-16 23:47:47.51613+00"}, {"date", "2021-02-16"},
		{"_int4", "{1,2,3}"}, {"_text", `{a,"b c"}`}, {"bytea", `\x0102`}, {"mood", "happy"}, {"_mood", "{sad,happy}"},
		{"money", "$1.50"}, {"timetz", "12:00:00+02"},
	}
	if len(ch.Rel.Columns) != len(want) {
		t.Fatalf("%d columns, want %d", len(ch.Rel.Columns), len(want))
	}
	for i, w := range want {
		col, v := ch.Rel.Columns[i], ch.New[i]
		if col.Type != w.typ || v.State != Text || v.Text != w.val {
			t.Errorf("column %s: type %q value %q, want %q %q", col.Name, col.Type, v.Text, w.typ, w.val)
		}
	}
	if got := ch.Rel.Columns[3].TypeModifier; got != (10<<16|2)+4 {
		t.Errorf("numeric(10,2) type modifier = %d", got)
	}
}

// TestStreamPermanentSlot checks the ack policy across two streams: what
// was confirmed is not sent again, everything else is.
func TestStreamPermanentSlot(t *testing.T) {
	t.Parallel()
	db := newDB(t, "CREATE TABLE t (id int PRIMARY KEY)", pubAll)
	cfg := Config{ConnString: db.url, SlotName: "Perm_Slot", StatusInterval: 200 * time.Millisecond}
	r1 := start(t, cfg, 16)
	if st := r1.s.Status(); st.Slot != "perm_slot" || st.Temporary {
		t.Fatalf("Status() = %+v, want permanent slot perm_slot", st)
	}
	for i := 1; i <= 3; i++ {
		db.exec(t, "INSERT INTO t VALUES ($1)", i)
	}
	var commits []Batch
	for range 3 {
		_, c := r1.tx()
		commits = append(commits, c)
	}
	r1.s.Confirm(commits[0].CommitLSN)
	r1.stop()
	if got := r1.s.Status().ConfirmedLSN; got != commits[0].CommitLSN {
		t.Errorf("ConfirmedLSN after stop = %s, want %s", got, commits[0].CommitLSN)
	}
	eventually(t, 10*time.Second, "slot released", func() bool {
		var active bool
		db.conn.QueryRow(t.Context(), "SELECT active FROM pg_replication_slots WHERE slot_name = 'perm_slot'").Scan(&active)
		return !active
	})
	if got := lsnOf(t, db, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'perm_slot'"); got != commits[0].CommitLSN {
		t.Errorf("slot confirmed_flush_lsn = %s, want %s (only the first commit was confirmed)", got, commits[0].CommitLSN)
	}

	db.exec(t, "INSERT INTO t VALUES (4)")
	r2 := start(t, cfg, 16)
	var ids []string
	for range 3 {
		changes, c := r2.tx()
		if c.Gap {
			t.Errorf("Gap set on a reused permanent slot")
		}
		for _, ch := range changes {
			ids = append(ids, ch.New[0].Text)
		}
		r2.s.Confirm(c.CommitLSN)
	}
	if want := []string{"2", "3", "4"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("second stream got ids %v, want %v", ids, want)
	}
	r2.quiet(500 * time.Millisecond)
}

// TestStreamTemporarySlot checks that a reconnect with a temporary slot is
// reported as a gap, and that the slot goes away with the stream.
func TestStreamTemporarySlot(t *testing.T) {
	t.Parallel()
	db := newDB(t, "CREATE TABLE t (id int PRIMARY KEY)", pubAll)
	r := start(t, Config{ConnString: db.url}, 16)
	first := r.s.Status().Slot
	if !db.slotExists(t, first) {
		t.Fatalf("slot %s not in pg_replication_slots", first)
	}
	db.exec(t, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1", first)
	var second string
	eventually(t, 20*time.Second, "a new slot", func() bool {
		st := r.s.Status()
		second = st.Slot
		return st.Live && st.Slot != first
	})
	if n := r.s.Status().Reconnects; n < 1 {
		t.Errorf("Reconnects = %d, want ≥ 1", n)
	}
	db.exec(t, "INSERT INTO t VALUES (1)")
	if _, c := r.tx(); !c.Gap {
		t.Errorf("first batch after a new temporary slot: Gap = false, want true")
	}
	db.exec(t, "INSERT INTO t VALUES (2)")
	if _, c := r.tx(); c.Gap {
		t.Errorf("second batch after a new temporary slot: Gap = true, want false")
	}
	r.stop()
	eventually(t, 10*time.Second, "temporary slots dropped", func() bool {
		return !db.slotExists(t, first) && !db.slotExists(t, second)
	})
}

// TestStreamLargeTransaction streams a 200k-row transaction in batches.
func TestStreamLargeTransaction(t *testing.T) {
	t.Parallel()
	const rows, size = 200_000, 1000
	db := newDB(t, "CREATE TABLE big (id int PRIMARY KEY, v int)", pubAll)
	r := start(t, Config{ConnString: db.url, BatchSize: size}, 4)
	db.exec(t, "INSERT INTO big SELECT g, g FROM generate_series(1, $1::int) g", rows)
	total, batches := 0, 0
	for {
		b := r.next(60 * time.Second)
		batches++
		if len(b.Changes) > size {
			t.Fatalf("batch %d has %d changes, more than BatchSize %d", batches, len(b.Changes), size)
		}
		for _, ch := range b.Changes {
			total++
			if want := total; ch.New[0].Text != strconv.Itoa(want) {
				t.Fatalf("change %d has id %s", total, ch.New[0].Text)
			}
		}
		if b.Commit {
			break
		}
		if total >= rows {
			t.Fatalf("no Commit after %d changes", total)
		}
	}
	if total != rows || batches != rows/size {
		t.Errorf("got %d changes in %d batches, want %d in %d", total, batches, rows, rows/size)
	}
}
