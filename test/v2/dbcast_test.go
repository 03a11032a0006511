package v2

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixture reads a SQL file of test/fixtures.
func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(jsDir, "..", "..", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSupabaseRoles creates the Supabase API roles on the shared cluster
// before any parallel test goes on (it is not parallel, so they wait for
// it): roles are cluster-wide, and two tests that create the same role at
// the same moment make one of them fail.
func TestSupabaseRoles(t *testing.T) {
	db := database(t, fixture(t, "supabase_project.sql"))
	exec1(t, db, `DO $$ BEGIN
  IF NOT (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'service_role') THEN RAISE EXCEPTION 'service_role does not bypass RLS'; END IF;
END $$`)
}

// supabaseDB is a database set up like a Supabase project, plus schema.
func supabaseDB(t *testing.T, schema string) string {
	t.Helper()
	return database(t, fixture(t, "supabase_project.sql")+"\n"+schema)
}

// dbBroadcast waits for a broadcast of event ev on channel name whose
// payload has n, and returns it.
func (c *nodeClient) dbBroadcast(name, ev string, n int) event {
	c.t.Helper()
	return c.expect(fmt.Sprintf("%s broadcast %s n=%d", name, ev, n), func(e event) bool {
		p, _ := e["payload"].(map[string]any)
		return e.str("kind") == "broadcast" && e.str("name") == name && e.str("event") == ev && p["n"] == float64(n)
	})
}

// noBroadcast fails if a broadcast with n already arrived on name.
func (c *nodeClient) noBroadcast(name string, n int) {
	c.t.Helper()
	for _, e := range c.backlog {
		if p, _ := e["payload"].(map[string]any); e.str("kind") == "broadcast" && e.str("name") == name && p["n"] == float64(n) {
			c.t.Errorf("%s received n=%d: %v", name, n, e)
		}
	}
}

// checkMeta checks the shape the original sends: the row's id in the
// payload and as meta.id.
func checkMeta(t *testing.T, e event) {
	t.Helper()
	p, _ := e["payload"].(map[string]any)
	meta, _ := e["meta"].(map[string]any)
	id, _ := p["id"].(string)
	if len(id) != 36 || meta["id"] != id {
		t.Errorf("broadcast from the database: payload.id %q, meta %v; want the row's uuid in both", id, e["meta"])
	}
}

// realtime.send reaches public rooms with private=false and private rooms
// by default, for binary (2.119) and JSON (2.88) clients, in commit order,
// and never as postgres_changes.
func TestDBBroadcastSendPublicAndPrivate(t *testing.T) {
	t.Parallel()
	db := supabaseDB(t, itemsSchema)
	g := startGateway(t, db)
	a := g.startClient(t, "2119")
	b := g.startClient(t, "288")
	priv := g.startClient(t, "2119")
	a.subscribed(map[string]any{"name": "room", "broadcast": []string{"ev"}})
	a.subscribed(map[string]any{"name": "all", "bindings": []any{map[string]any{"event": "*", "schema": "*"}}})
	b.subscribed(map[string]any{"name": "room", "broadcast": []string{"ev"}})
	priv.subscribed(map[string]any{"name": "room", "config": map[string]any{"private": true}, "broadcast": []string{"ev"}})

	exec1(t, db, `SELECT realtime.send('{"n":1}', 'ev', 'room', false)`)
	exec1(t, db, `SELECT realtime.send('{"n":2}', 'ev', 'room')`)
	exec1(t, db, `SELECT realtime.send('{"n":3}', 'ev', 'room', false)`)
	exec1(t, db, `INSERT INTO items (id) VALUES (1)`)

	for _, c := range []*nodeClient{a, b} {
		checkMeta(t, c.dbBroadcast("room", "ev", 1))
		c.dbBroadcast("room", "ev", 3)
		c.noBroadcast("room", 2)
	}
	checkMeta(t, priv.dbBroadcast("room", "ev", 2))
	a.expect("INSERT of items", func(e event) bool { return e.str("kind") == "pg" && e.str("type") == "INSERT" })
	for _, e := range a.backlog {
		if e.str("kind") == "pg" {
			t.Errorf("a row of realtime.messages arrived as postgres_changes: %v", e)
		}
	}
	priv.noBroadcast("room", 1)
	priv.noBroadcast("room", 3)
}

// A trigger with realtime.broadcast_changes reaches the private topic.
func TestDBBroadcastChangesTrigger(t *testing.T) {
	t.Parallel()
	db := supabaseDB(t, itemsSchema)
	g := startGateway(t, db)
	exec1(t, db, `
CREATE FUNCTION public.items_broadcast() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM realtime.broadcast_changes('items:' || coalesce(NEW.id, OLD.id), TG_OP, TG_OP, TG_TABLE_NAME, TG_TABLE_SCHEMA, NEW, OLD);
  RETURN NULL;
END $$;
CREATE TRIGGER items_broadcast AFTER INSERT OR UPDATE OR DELETE ON public.items
  FOR EACH ROW EXECUTE FUNCTION public.items_broadcast();`)
	c := g.startClient(t, "supabase")
	c.subscribed(map[string]any{"name": "items:7", "config": map[string]any{"private": true}, "broadcast": []string{"*"}})
	exec1(t, db, `INSERT INTO items (id, name) VALUES (7, 'seven')`)
	exec1(t, db, `UPDATE items SET name = 'sept' WHERE id = 7`)
	for _, op := range []string{"INSERT", "UPDATE"} {
		e := c.expect(op+" broadcast", func(e event) bool { return e.str("kind") == "broadcast" && e.str("event") == op })
		p := e["payload"].(map[string]any)
		rec, _ := p["record"].(map[string]any)
		if p["operation"] != op || p["table"] != "items" || p["schema"] != "public" || rec["id"] != float64(7) {
			t.Errorf("%s payload = %v", op, p)
		}
		checkMeta(t, e)
	}
}

// A gateway restarted on a permanent slot delivers, once back, what was
// sent from the database while it was down, in order and once. (After a
// crash, what was delivered but not yet confirmed comes again.)
func TestDBBroadcastSurvivesRestart(t *testing.T) {
	t.Parallel()
	db := supabaseDB(t, itemsSchema)
	slot := "dbcast_" + strings.ToLower(fmt.Sprint(time.Now().UnixNano()%1e9))
	g := startGateway(t, db, "SLOT_NAME="+slot, "REJOIN_GRACE_MS=4000")
	c := g.startClient(t, "2119")
	c.subscribed(map[string]any{"name": "room", "broadcast": []string{"ev"}})
	exec1(t, db, `SELECT realtime.send('{"n":0}', 'ev', 'room', false)`)
	c.dbBroadcast("room", "ev", 0)
	if code, _ := g.Stop(); code != 0 {
		t.Fatalf("gateway exited with %d", code)
	}
	for n := 1; n <= 5; n++ {
		exec1(t, db, fmt.Sprintf(`SELECT realtime.send('{"n":%d}', 'ev', 'room', false)`, n))
	}
	g.Restart()
	for n := 1; n <= 5; n++ {
		c.dbBroadcast("room", "ev", n)
	}
	for _, e := range c.backlog {
		if e.str("kind") == "broadcast" {
			t.Errorf("out of order or duplicate: %v", e)
		}
	}
}

// A database whose realtime schema Supabase's server set up keeps it, and
// its functions deliver (the publication announces partitions by name).
func TestDBBroadcastOnOriginalSchema(t *testing.T) {
	t.Parallel()
	db := database(t, fixture(t, "supabase_project.sql")+fixture(t, "supabase_realtime_v2.sql")+`
CREATE TABLE public.items (id int8 PRIMARY KEY, name text);
CREATE PUBLICATION supabase_realtime FOR TABLE public.items;`)
	g := startGateway(t, db)
	c := g.startClient(t, "288")
	c.subscribed(map[string]any{"name": "room", "broadcast": []string{"ev"}})
	exec1(t, db, `SELECT realtime.send('{"n":1}', 'ev', 'room', false)`)
	checkMeta(t, c.dbBroadcast("room", "ev", 1))
	exec1(t, db, `DO $$ BEGIN
  IF (SELECT prosrc NOT LIKE '%original-shape%' FROM pg_proc WHERE oid = 'realtime.send(jsonb,text,text,boolean)'::regprocedure) THEN
    RAISE EXCEPTION 'realtime.send was replaced';
  END IF;
END $$`)
}

// Without migrations and without the schema, the gateway says what is
// missing and postgres_changes works.
func TestDBBroadcastMigrationsOff(t *testing.T) {
	t.Parallel()
	db := database(t, itemsSchema)
	g := startGateway(t, db, "REALTIME_MIGRATIONS=false")
	c := g.startClient(t, "2119")
	c.subscribed(map[string]any{"name": "items", "bindings": []any{binding("INSERT", "")}})
	exec1(t, db, `INSERT INTO items (id) VALUES (1)`)
	c.waitInsert(1)
	if logs := g.Logs.String(); !strings.Contains(logs, "REALTIME_MIGRATIONS=false and the database lacks table realtime.messages") {
		t.Errorf("logs do not name the missing table:\n%s", logs)
	}
	exec1(t, db, `DO $$ BEGIN IF to_regnamespace('realtime') IS NOT NULL THEN RAISE EXCEPTION 'schema created with migrations off'; END IF; END $$`)
}

// A role that may replicate but not create the schema gets an error naming
// the privilege, and postgres_changes works.
func TestDBBroadcastWithoutPrivilege(t *testing.T) {
	t.Parallel()
	db := database(t, itemsSchema)
	role := fmt.Sprintf("repl_only_%d", time.Now().UnixNano()%1e9)
	exec1(t, db, fmt.Sprintf(`CREATE ROLE %s LOGIN REPLICATION PASSWORD 'pw'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO %[1]s;`, role))
	g := startGateway(t, db, "DB_USER="+role, "DB_PASSWORD=pw")
	c := g.startClient(t, "2119")
	c.subscribed(map[string]any{"name": "items", "bindings": []any{binding("INSERT", "")}})
	exec1(t, db, `INSERT INTO items (id) VALUES (1)`)
	c.waitInsert(1)
	if logs := g.Logs.String(); !strings.Contains(logs, "lacks the CREATE privilege on DATABASE") {
		t.Errorf("logs do not name the missing privilege:\n%s", logs)
	}
}

// A payload over MAX_BROADCAST_BYTES is not broadcast, and says why.
func TestDBBroadcastOverLimit(t *testing.T) {
	t.Parallel()
	db := supabaseDB(t, itemsSchema)
	g := startGateway(t, db, "MAX_BROADCAST_BYTES=1000")
	c := g.startClient(t, "2119")
	c.subscribed(map[string]any{"name": "room", "broadcast": []string{"ev"}})
	exec1(t, db, `SELECT realtime.send(jsonb_build_object('n', 1, 'pad', repeat('x', 2000)), 'ev', 'room', false)`)
	exec1(t, db, `SELECT realtime.send('{"n":2}', 'ev', 'room', false)`)
	c.dbBroadcast("room", "ev", 2)
	c.noBroadcast("room", 1)
	if !strings.Contains(g.Logs.String(), "over MAX_BROADCAST_BYTES") {
		t.Error("the dropped broadcast was not logged")
	}
}

// In a cluster, every node delivers broadcasts from the database to its
// own members, whichever node holds the slot.
func TestDBBroadcastCluster(t *testing.T) {
	t.Parallel()
	db := supabaseDB(t, itemsSchema)
	nodes, holder := startCluster(t, db, 2)
	other := nodes[1-holder]
	a := nodes[holder].startClient(t, "2119")
	b := other.startClient(t, "288")
	a.subscribed(map[string]any{"name": "room", "broadcast": []string{"ev"}})
	b.subscribed(map[string]any{"name": "room", "broadcast": []string{"ev"}})
	exec1(t, db, `SELECT realtime.send('{"n":1}', 'ev', 'room', false)`)
	checkMeta(t, a.dbBroadcast("room", "ev", 1))
	checkMeta(t, b.dbBroadcast("room", "ev", 1))
}

// realtime.send_binary reaches vsn 2.0.0 clients as bytes; vsn 1.0.0
// clients cannot receive bytes and get nothing for it, as for binary
// broadcasts from sockets.
func TestDBBroadcastSendBinary(t *testing.T) {
	t.Parallel()
	db := supabaseDB(t, itemsSchema)
	g := startGateway(t, db)
	a := g.startClient(t, "2119")
	b := g.startClient(t, "288")
	a.subscribed(map[string]any{"name": "room", "broadcast": []string{"*"}})
	b.subscribed(map[string]any{"name": "room", "broadcast": []string{"*"}})
	exec1(t, db, `SELECT realtime.send_binary('\x010203', 'bin', 'room', false)`)
	exec1(t, db, `SELECT realtime.send('{"n":1}', 'ev', 'room', false)`)
	e := a.expect("binary broadcast", func(e event) bool { return e.str("kind") == "broadcast" && e.str("event") == "bin" })
	if got := fmt.Sprint(e["payload"].(map[string]any)["bytes"]); got != "[1 2 3]" {
		t.Errorf("binary payload = %s, want [1 2 3]", got)
	}
	checkMeta(t, b.dbBroadcast("room", "ev", 1))
	for _, e := range b.backlog {
		if e.str("event") == "bin" {
			t.Errorf("vsn 1.0.0 client got a binary broadcast: %v", e)
		}
	}
}
