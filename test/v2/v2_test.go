package v2

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
)

const itemsSchema = `
CREATE TABLE public.items (id int8 PRIMARY KEY, name text, qty int4, price numeric(10,2), active bool);
ALTER TABLE public.items REPLICA IDENTITY FULL;
CREATE TABLE public.other (id int8 PRIMARY KEY);
CREATE PUBLICATION supabase_realtime FOR ALL TABLES;`

func binding(event, filter string) map[string]any {
	b := map[string]any{"event": event, "schema": "public", "table": "items"}
	if filter != "" {
		b["filter"] = filter
	}
	return b
}

// TestPostgresChangesFilters checks every long-standing filter operator,
// event filtering and a schema-wide binding, on INSERT, UPDATE and DELETE
// (DELETE matched on the old row, which REPLICA IDENTITY FULL gives whole).
func TestPostgresChangesFilters(t *testing.T) {
	t.Parallel()
	for _, lib := range []string{"2119", "288"} {
		t.Run(lib, func(t *testing.T) {
			t.Parallel()
			db := database(t, itemsSchema)
			g := startGateway(t, db)
			c := g.startClient(t, lib)
			bindings := []any{
				binding("*", ""),                                 // 0
				binding("INSERT", "id=eq.2"),                     // 1
				binding("UPDATE", "qty=neq.5"),                   // 2
				binding("*", "qty=lt.3"),                         // 3
				binding("*", "qty=lte.3"),                        // 4
				binding("*", "qty=gt.10"),                        // 5
				binding("*", "qty=gte.10"),                       // 6
				binding("*", "id=in.(1,3)"),                      // 7
				binding("DELETE", "id=eq.1"),                     // 8
				map[string]any{"event": "*", "schema": "public"}, // 9: every table of the schema
			}
			c.subscribed(map[string]any{"name": "items-" + lib, "bindings": bindings})
			exec1(t, db, "INSERT INTO public.items (id, name, qty) VALUES (1, 'a', 1)")
			exec1(t, db, "INSERT INTO public.items (id, name, qty) VALUES (2, 'b', 3)")
			exec1(t, db, "INSERT INTO public.items (id, name, qty) VALUES (3, 'c', 10)")
			exec1(t, db, "UPDATE public.items SET qty = 11 WHERE id = 1")
			exec1(t, db, "DELETE FROM public.items WHERE id = 1")
			exec1(t, db, "INSERT INTO public.items (id, name, qty) VALUES (99, 'sentinel', 5)")
			var got []string
			c.expect("the sentinel insert", func(e event) bool {
				if e.str("kind") != "pg" {
					return false
				}
				row, _ := e["new"].(map[string]any)
				if e.str("type") == "DELETE" {
					row, _ = e["old"].(map[string]any)
				}
				got = append(got, fmt.Sprintf("%s %v #%v", e.str("type"), row["id"], e["binding"]))
				return row["id"] == float64(99) && e["binding"] == float64(9)
			})
			want := []string{
				"INSERT 1 #0", "INSERT 1 #3", "INSERT 1 #4", "INSERT 1 #7", "INSERT 1 #9",
				"INSERT 2 #0", "INSERT 2 #1", "INSERT 2 #4", "INSERT 2 #9",
				"INSERT 3 #0", "INSERT 3 #6", "INSERT 3 #7", "INSERT 3 #9",
				"UPDATE 1 #0", "UPDATE 1 #2", "UPDATE 1 #5", "UPDATE 1 #6", "UPDATE 1 #7", "UPDATE 1 #9",
				"DELETE 1 #0", "DELETE 1 #5", "DELETE 1 #6", "DELETE 1 #7", "DELETE 1 #8", "DELETE 1 #9",
				"INSERT 99 #0", "INSERT 99 #9",
			}
			sort.Strings(got)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("deliveries:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// TestTypedValues checks that postgres_changes values arrive as the
// original renders them with to_jsonb: numbers, booleans, JSON, arrays,
// ISO timestamps.
func TestTypedValues(t *testing.T) {
	t.Parallel()
	db := database(t, `
CREATE TABLE public.types (id int4 PRIMARY KEY, i2 int2, i8 int8, num numeric(10,2), f8 float8, ok bool, t text,
  v varchar(20), u uuid, j json, jb jsonb, ts timestamp, tz timestamptz, d date, ia int4[], ta text[], b bytea, n text);
ALTER TABLE public.types REPLICA IDENTITY FULL;
CREATE PUBLICATION supabase_realtime FOR ALL TABLES;`)
	g := startGateway(t, db)
	c := g.startClient(t, "2119")
	c.subscribed(map[string]any{"name": "types", "bindings": []any{map[string]any{"event": "INSERT", "schema": "public", "table": "types"}}})
	exec1(t, db, `INSERT INTO public.types VALUES (1, 2, 9007199254740993, 12.50, 1.5, true, 'hi', 'v', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
		'{"a": 1}', '{"b": [1, 2]}', '2021-02-16 23:47:47.51613', '2021-02-16 23:47:47.51613+00', '2021-02-16',
		'{1,2,3}', '{"x y",z}', '\x0102', NULL)`)
	e := c.expect("the insert", func(e event) bool { return e.str("kind") == "pg" })
	row := e["new"].(map[string]any)
	want := map[string]any{
		"id": float64(1), "i2": float64(2), "i8": float64(9007199254740993), "num": 12.5, "f8": 1.5, "ok": true, "t": "hi", "v": "v",
		"u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "j": map[string]any{"a": float64(1)}, "jb": map[string]any{"b": []any{float64(1), float64(2)}},
		"ts": "2021-02-16T23:47:47.51613", "tz": "2021-02-16T23:47:47.51613+00:00", "d": "2021-02-16",
		"ia": []any{float64(1), float64(2), float64(3)}, "ta": []any{"x y", "z"}, "b": `\x0102`, "n": nil,
	}
	for k, v := range want {
		if !reflect.DeepEqual(row[k], v) {
			t.Errorf("new.%s = %#v, want %#v", k, row[k], v)
		}
	}
}

// TestBroadcastSelfAck runs a current client (binary frames) and a 2.88
// client (JSON frames) in one room.
func TestBroadcastSelfAck(t *testing.T) {
	t.Parallel()
	g := startGateway(t, database(t, itemsSchema))
	a := g.startClient(t, "2119")
	b := g.startClient(t, "288")
	a.subscribed(map[string]any{"name": "room", "config": map[string]any{"broadcast": map[string]any{"self": true, "ack": true}}, "broadcast": []string{"*"}})
	b.subscribed(map[string]any{"name": "room", "config": map[string]any{"broadcast": map[string]any{"self": false}}, "broadcast": []string{"*"}})

	a.send(map[string]any{"cmd": "send", "name": "room", "event": "from-a", "payload": map[string]any{"n": 1}})
	if e := a.expect("ack", func(e event) bool { return e.str("kind") == "sent" }); e.str("result") != "ok" {
		t.Fatalf("send with ack: %v", e)
	}
	a.expect("own broadcast (self)", func(e event) bool { return e.str("kind") == "broadcast" && e.str("event") == "from-a" })
	if e := b.expect("a's broadcast", func(e event) bool { return e.str("kind") == "broadcast" }); e.str("event") != "from-a" ||
		!reflect.DeepEqual(e["payload"], map[string]any{"n": float64(1)}) {
		t.Fatalf("b got %v", e)
	}
	b.send(map[string]any{"cmd": "send", "name": "room", "event": "from-b", "payload": map[string]any{"n": 2}})
	a.expect("b's broadcast", func(e event) bool { return e.str("kind") == "broadcast" && e.str("event") == "from-b" })
	a.send(map[string]any{"cmd": "send", "name": "room", "event": "sentinel", "payload": map[string]any{}})
	b.expect("the sentinel", func(e event) bool {
		if e.str("kind") == "broadcast" && e.str("event") == "from-b" {
			t.Fatal("b received its own broadcast with self=false")
		}
		return e.str("kind") == "broadcast" && e.str("event") == "sentinel"
	})
}

// TestPresenceSyncAndLeave checks that two clients see each other and that
// the leave of one reaches the other.
func TestPresenceSyncAndLeave(t *testing.T) {
	t.Parallel()
	g := startGateway(t, database(t, itemsSchema))
	a := g.startClient(t, "2119")
	b := g.startClient(t, "288")
	a.subscribed(map[string]any{"name": "lobby", "config": map[string]any{"presence": map[string]any{"key": "alice"}}, "presence": true})
	b.subscribed(map[string]any{"name": "lobby", "config": map[string]any{"presence": map[string]any{"key": "bob"}}, "presence": true})
	a.send(map[string]any{"cmd": "track", "name": "lobby", "payload": map[string]any{"mood": "happy"}})
	b.send(map[string]any{"cmd": "track", "name": "lobby", "payload": map[string]any{"mood": "calm"}})
	both := func(e event) bool {
		st, _ := e["state"].(map[string]any)
		return e.str("kind") == "presence" && st["alice"] != nil && st["bob"] != nil
	}
	a.expect("both in a's state", both)
	b.expect("both in b's state", both)
	a.send(map[string]any{"cmd": "remove", "name": "lobby"})
	b.expect("alice gone", func(e event) bool {
		st, _ := e["state"].(map[string]any)
		return e.str("kind") == "presence" && st["alice"] == nil && st["bob"] != nil
	})
}

// TestRemoveChannelStopsDelivery: after removeChannel, nothing more arrives
// on that channel, while another channel of the same client keeps receiving.
func TestRemoveChannelStopsDelivery(t *testing.T) {
	t.Parallel()
	db := database(t, itemsSchema)
	g := startGateway(t, db)
	c := g.startClient(t, "2119")
	c.subscribed(map[string]any{"name": "items", "bindings": []any{binding("*", "")}})
	c.subscribed(map[string]any{"name": "other", "bindings": []any{map[string]any{"event": "*", "schema": "public", "table": "other"}}})
	exec1(t, db, "INSERT INTO public.items (id) VALUES (1)")
	c.expect("first insert", func(e event) bool { return e.str("kind") == "pg" && e.str("name") == "items" })
	c.send(map[string]any{"cmd": "remove", "name": "items"})
	c.expect("removed", func(e event) bool { return e.str("kind") == "removed" })
	exec1(t, db, "INSERT INTO public.items (id) VALUES (2)")
	exec1(t, db, "INSERT INTO public.other (id) VALUES (1)")
	c.expect("the sentinel on the other channel", func(e event) bool {
		if e.str("kind") == "pg" && e.str("name") == "items" {
			t.Fatalf("delivery after removeChannel: %v", e)
		}
		return e.str("kind") == "pg" && e.str("name") == "other"
	})
}

// TestSupabaseJS points supabase-js at the gateway's URL: it builds
// /realtime/v1/websocket itself.
func TestSupabaseJS(t *testing.T) {
	t.Parallel()
	db := database(t, itemsSchema)
	g := startGateway(t, db)
	c := g.startClient(t, "supabase")
	c.subscribed(map[string]any{"name": "board", "bindings": []any{binding("INSERT", "qty=gt.1")}})
	exec1(t, db, "INSERT INTO public.items (id, name, qty, price, active) VALUES (7, 'x', 1, 1, false)")
	exec1(t, db, "INSERT INTO public.items (id, name, qty, price, active) VALUES (8, 'y', 2, 2.25, true)")
	e := c.expect("the matching insert", func(e event) bool { return e.str("kind") == "pg" })
	want := map[string]any{"id": float64(8), "name": "y", "qty": float64(2), "price": 2.25, "active": true}
	if !reflect.DeepEqual(e["new"], want) {
		t.Fatalf("new = %v, want %v", e["new"], want)
	}
}

// TestBadFilterIsReported: a filter on a missing column is not a silent
// no-op: the client hears why in a system message.
func TestBadFilterIsReported(t *testing.T) {
	t.Parallel()
	g := startGateway(t, database(t, itemsSchema))
	c := g.startClient(t, "2119")
	c.send(map[string]any{"cmd": "subscribe", "name": "bad", "bindings": []any{binding("*", "nope=eq.1")}})
	e := c.expect("a system error", func(e event) bool {
		p, _ := e["payload"].(map[string]any)
		return e.str("kind") == "system" && p["status"] == "error"
	})
	if msg := e["payload"].(map[string]any)["message"].(string); msg == "" {
		t.Fatalf("empty error message: %v", e)
	}
}
