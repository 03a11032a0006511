package migrate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/pgrealtime/realtime/test/localpg"
)

var suite localpg.Suite

// TestMain runs the tests on the package's PostgreSQL and then fails the
// run when a test left a goroutine behind (a pool or stream not closed).
func TestMain(m *testing.M) {
	code := localpg.Main(m, &suite)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../test/fixtures/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func database(t *testing.T, fixtures ...string) string {
	t.Helper()
	db := suite.Database(t)
	for _, f := range fixtures {
		execSQL(t, db, fixture(t, f))
	}
	return db
}

func execSQL(t *testing.T, db, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%.80s: %v", sql, err)
	}
}

func query[T any](t *testing.T, db, sql string, args ...any) T {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v T
	if err := conn.QueryRow(t.Context(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func TestRunCreatesSchemaOnce(t *testing.T) {
	t.Parallel()
	db := database(t, "supabase_project.sql")
	applied, err := Run(t.Context(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(migrations) {
		t.Fatalf("applied %v, want all %d migrations", applied, len(migrations))
	}
	if err := Check(t.Context(), db); err != nil {
		t.Fatalf("Check after Run: %v", err)
	}
	again, err := Run(t.Context(), db, nil)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Run applied %v, %v; want nothing", again, err)
	}
	if !query[bool](t, db, "SELECT relrowsecurity FROM pg_class WHERE oid = 'realtime.messages'::regclass") {
		t.Error("RLS is not enabled on realtime.messages")
	}
	if !query[bool](t, db, "SELECT pubviaroot FROM pg_publication WHERE pubname = $1", Publication) {
		t.Error("publication does not publish via the partition root")
	}
	if !query[bool](t, db, "SELECT has_table_privilege('authenticated', 'realtime.messages', 'INSERT')") {
		t.Error("authenticated may not insert into realtime.messages")
	}
	// send adds the id to the payload, and so does broadcast_changes.
	execSQL(t, db, `SELECT realtime.send('{"a":1}', 'ev', 'room', false)`)
	if !query[bool](t, db, "SELECT payload->>'id' = id::text AND topic = 'room' AND NOT private AND extension = 'broadcast' AND event = 'ev' FROM realtime.messages") {
		t.Error("realtime.send row: want the id in the payload and the columns as given")
	}
	execSQL(t, db, `SELECT realtime.send_binary('\x0102', 'bin', 'room')`)
	if n := query[int](t, db, "SELECT count(*)::int FROM realtime.messages WHERE binary_payload = '\\x0102' AND private"); n != 1 {
		t.Errorf("send_binary rows = %d, want 1", n)
	}
}

func TestRunKeepsOriginalSchema(t *testing.T) {
	t.Parallel()
	db := database(t, "supabase_project.sql", "supabase_realtime_v2.sql")
	before := query[string](t, db, "SELECT string_agg(version::text, ',' ORDER BY version) FROM realtime.schema_migrations")
	if _, err := Run(t.Context(), db, nil); err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{"realtime.topic()", "realtime.send(jsonb,text,text,boolean)", "realtime.broadcast_changes(text,text,text,text,text,record,record,text)"} {
		if !query[bool](t, db, "SELECT prosrc LIKE '%original-shape%' FROM pg_proc WHERE oid = to_regprocedure($1)", fn) {
			t.Errorf("%s was replaced", fn)
		}
	}
	if after := query[string](t, db, "SELECT string_agg(version::text, ',' ORDER BY version) FROM realtime.schema_migrations"); after != before {
		t.Errorf("realtime.schema_migrations changed: %s → %s", before, after)
	}
	if query[bool](t, db, "SELECT pubviaroot FROM pg_publication WHERE pubname = $1", Publication) {
		t.Error("the original's publication was altered")
	}
	if owner := query[string](t, db, "SELECT relowner::regrole::text FROM pg_class WHERE oid = 'realtime.messages'::regclass"); owner != "supabase_realtime_admin" {
		t.Errorf("realtime.messages owner = %s", owner)
	}
	execSQL(t, db, `SELECT realtime.send('{"a":1}', 'ev', 'room')`)
	if n := query[int](t, db, "SELECT count(*)::int FROM realtime.messages"); n != 1 {
		t.Errorf("rows after the original's send = %d", n)
	}
}

func TestRunWithoutPrivilegeNamesIt(t *testing.T) {
	t.Parallel()
	db := database(t)
	role := "nocreate_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))
	execSQL(t, db, "DO $$ BEGIN CREATE ROLE "+role+" LOGIN PASSWORD 'pw'; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
	u, _ := url.Parse(db)
	u.User = url.UserPassword(role, "pw")
	_, err := Run(t.Context(), u.String(), nil)
	var pe *PrivilegeError
	if !errors.As(err, &pe) || !errors.Is(err, ErrPrivilege) {
		t.Fatalf("Run as %s: %v, want a PrivilegeError", role, err)
	}
	if pe.Privilege != "CREATE" || !strings.Contains(pe.On, "DATABASE") || !strings.Contains(err.Error(), "GRANT CREATE ON DATABASE") {
		t.Errorf("error does not name the privilege: %v", err)
	}
	if query[bool](t, db, "SELECT to_regnamespace('realtime') IS NOT NULL") {
		t.Error("a schema was created anyway")
	}
}

func TestCheckNamesMissingObjects(t *testing.T) {
	t.Parallel()
	db := database(t)
	err := Check(t.Context(), db)
	var me *MissingError
	if !errors.As(err, &me) || !errors.Is(err, ErrMissing) {
		t.Fatalf("Check on an empty database: %v", err)
	}
	if !slices.Contains(me.Objects, "table realtime.messages") || !strings.Contains(err.Error(), "publication "+Publication) {
		t.Errorf("Check error = %v", err)
	}
}

func TestJanitorKeepsPartitionsWithinRetention(t *testing.T) {
	t.Parallel()
	db := database(t, "supabase_project.sql")
	if _, err := Run(t.Context(), db, nil); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 5, 10, 12, 0, 0, 0, time.UTC)
	// Older partitions, as a gateway that ran on earlier days left them.
	for _, day := range []string{"2030-05-05", "2030-05-06", "2030-05-07"} {
		d, _ := time.Parse(time.DateOnly, day)
		execSQL(t, db, "CREATE TABLE realtime."+partitionName(d)+" PARTITION OF realtime.messages FOR VALUES FROM ('"+day+"') TO ('"+d.AddDate(0, 0, 1).Format(time.DateOnly)+"')")
	}
	j := Janitor{ConnString: db, Now: func() time.Time { return now }}
	if err := j.Tidy(t.Context()); err != nil {
		t.Fatal(err)
	}
	names := strings.Split(query[string](t, db, `SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'realtime.messages'::regclass AND c.relname LIKE 'messages_2030%'`), ",")
	// 05-06 ended 05-07 00:00, 82 h before now: dropped; 05-07 ended 58 h
	// before now: kept. Today and three days ahead exist.
	want := []string{"messages_2030_05_07", "messages_2030_05_10", "messages_2030_05_11", "messages_2030_05_12", "messages_2030_05_13"}
	if !slices.Equal(names, want) {
		t.Errorf("partitions = %v, want %v", names, want)
	}
	execSQL(t, db, "INSERT INTO realtime.messages (topic, extension, inserted_at) VALUES ('t', 'broadcast', '2030-05-13 23:59')")
}

func TestPartitionDay(t *testing.T) {
	for name, want := range map[string]bool{"messages_2024_01_31": true, "messages_2024_1_31": false, "messages_x": false, "messages_2024_13_01": false, "other_2024_01_31": false} {
		if _, ok := partitionDay(name); ok != want {
			t.Errorf("partitionDay(%q) ok = %v, want %v", name, ok, want)
		}
	}
}
