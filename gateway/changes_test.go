package gateway

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/wsconn"
	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

func todoChange(op replication.Op, id, title, done string) replication.Batch {
	rel := replication.NewRelation(7, "public", "todos", 'd', []replication.Column{
		{Name: "id", Type: "int8", Key: true}, {Name: "title", Type: "text"}, {Name: "done", Type: "bool"},
	})
	ch := replication.Change{Op: op, Rel: rel, CommitTime: time.Now()}
	row := []replication.Value{text(id), text(title), text(done)}
	if op == replication.Delete {
		ch.Old, ch.OldIsKey = []replication.Value{text(id), {}, {}}, true
	} else {
		ch.New = row
	}
	return replication.Batch{Changes: []replication.Change{ch}, Commit: true}
}

func TestPostgresChanges(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.dial(t, "vsn=2.0.0")
	c.send(`["1","1","realtime:room1","phx_join",{"config":{"broadcast":{"ack":false,"self":false},"presence":{"key":"","enabled":false},"postgres_changes":[{"event":"*","schema":"public","table":"todos"},{"event":"UPDATE","schema":"public","table":"todos","filter":"id=gt.5"},{"event":"INSERT","schema":"public","table":"todos","filter":"id=in.(1,2)"}],"private":false}}]`)
	jr, ref, topic, event, p := c.readV2()
	if jr != "1" || ref != "1" || topic != "realtime:room1" || event != "phx_reply" || p["status"] != "ok" {
		t.Fatalf("join reply: %v %v %v %v %v", jr, ref, topic, event, p)
	}
	pcs := p["response"].(map[string]any)["postgres_changes"].([]any)
	if len(pcs) != 3 {
		t.Fatalf("postgres_changes = %v", pcs)
	}
	ids := make([]float64, 3)
	for i, e := range pcs {
		m := e.(map[string]any)
		ids[i] = m["id"].(float64)
		if m["schema"] != "public" || m["table"] != "todos" {
			t.Fatalf("entry %d not echoed: %v", i, m)
		}
	}
	if pcs[1].(map[string]any)["filter"] != "id=gt.5" {
		t.Fatalf("filter not echoed: %v", pcs[1])
	}
	if _, _, _, event, p := c.readV2(); event != "system" || p["message"] != "Subscribed to PostgreSQL" || p["channel"] != "room1" {
		t.Fatalf("system message: %s %v", event, p)
	}

	ts.hub.Route(todoChange(replication.Update, "10", "milk", "t")) // * and id=gt.5
	jr, ref, topic, event, p = c.readV2()
	if jr != nil || ref != nil || event != "postgres_changes" || topic != "realtime:room1" {
		t.Fatalf("change frame: %v %v %s %s", jr, ref, topic, event)
	}
	gotIDs := p["ids"].([]any)
	if len(gotIDs) != 2 || !containsID(gotIDs, ids[0]) || !containsID(gotIDs, ids[1]) {
		t.Fatalf("ids = %v, want %v and %v", gotIDs, ids[0], ids[1])
	}
	data := p["data"].(map[string]any)
	rec := data["record"].(map[string]any)
	if rec["id"] != float64(10) || rec["done"] != true || data["type"] != "UPDATE" {
		t.Fatalf("data = %v", data)
	}

	ts.hub.Route(todoChange(replication.Insert, "2", "eggs", "f")) // * and id=in.(1,2)
	_, _, _, _, p = c.readV2()
	if gotIDs := p["ids"].([]any); len(gotIDs) != 2 || !containsID(gotIDs, ids[2]) {
		t.Fatalf("insert ids = %v", gotIDs)
	}
	ts.hub.Route(todoChange(replication.Update, "3", "x", "f")) // only *
	_, _, _, _, p = c.readV2()
	if gotIDs := p["ids"].([]any); len(gotIDs) != 1 || gotIDs[0] != ids[0] {
		t.Fatalf("update 3 ids = %v", gotIDs)
	}
}

func containsID(ids []any, id float64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func TestPostgresChangesBadConfig(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.dial(t, "vsn=2.0.0")
	c.send(`["1","1","realtime:room1","phx_join",{"config":{"postgres_changes":[{"event":"*","schema":"public","table":"todos","filter":"id=bogus.1"}]}}]`)
	if _, _, _, _, p := c.readV2(); p["status"] != "ok" {
		t.Fatalf("join with a bad filter must succeed and report it after: %v", p)
	}
	_, _, _, event, p := c.readV2()
	if event != "system" || p["status"] != "error" || !strings.Contains(p["message"].(string), `unknown operator "bogus"`) {
		t.Fatalf("system error = %s %v", event, p)
	}
	for frame, want := range map[string]string{
		`["1","2","realtime:r2","phx_join",{"config":{"postgres_changes":[{"event":"UPSERT","schema":"public"}]}}]`: "use *, INSERT, UPDATE or DELETE",
		`["1","3","realtime:r3","phx_join",{"config":{"postgres_changes":[{"event":"*","colour":"red"}]}}]`:         `unknown postgres_changes key "colour"`,
		`["1","4","realtime:r4","phx_join",{"config":{"postgres_changes":[{"event":"*","table":7}]}}]`:              `"table" must be a string`,
		`["1","5","realtime:r5","phx_join",{"config":{"broadcast":{"self":"maybe"}}}]`:                              "invalid join config",
		`["1","6","realtime:","phx_join",{"config":{}}]`:                                                            "TopicNameRequired",
	} {
		c.send(frame)
		_, _, _, _, p := c.readV2()
		resp, _ := p["response"].(map[string]any)
		if p["status"] != "error" || !strings.Contains(resp["reason"].(string), want) {
			t.Fatalf("%s: reply %v, want error containing %q", frame, p, want)
		}
	}
}

func TestGapIsReportedToPostgresChangesChannels(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.dial(t, "vsn=2.0.0")
	c.send(`["1","1","realtime:room1","phx_join",{"config":{"postgres_changes":[{"event":"*","schema":"public","table":"todos"}]}}]`)
	c.readV2()
	c.readV2() // Subscribed to PostgreSQL
	ts.hub.Route(replication.Batch{Gap: true, Commit: true})
	if _, _, _, event, p := c.readV2(); event != "system" || p["status"] != "error" || !strings.Contains(p["message"].(string), "may be missing") {
		t.Fatalf("gap notice: %s %v", event, p)
	}
}

func TestPostgresChangesSelect(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.dial(t, "vsn=2.0.0")
	c.send(`["1","1","realtime:room1","phx_join",{"config":{"postgres_changes":[{"event":"*","schema":"public","table":"todos","select":["title"]},{"event":"*","schema":"public","table":"*","select":["title"]}]}}]`)
	if _, _, _, _, p := c.readV2(); p["status"] != "ok" {
		t.Fatalf("join: %v", p)
	}
	gotOK, gotErr := false, false
	for range 2 {
		_, _, _, event, p := c.readV2()
		if event != "system" {
			t.Fatalf("want system messages, got %s %v", event, p)
		}
		gotOK = gotOK || p["status"] == "ok"
		gotErr = gotErr || (p["status"] == "error" && strings.Contains(p["message"].(string), "select needs one table"))
	}
	if !gotOK || !gotErr {
		t.Fatalf("system messages: ok=%v select-with-wildcard error=%v", gotOK, gotErr)
	}
	ts.hub.Route(todoChange(replication.Insert, "4", "bread", "f"))
	_, _, _, _, p := c.readV2()
	data := p["data"].(map[string]any)
	rec := data["record"].(map[string]any)
	if len(rec) != 2 || rec["id"] != float64(4) || rec["title"] != "bread" {
		t.Fatalf("record = %v, want the key and the selected column", rec)
	}
	if cols := data["columns"].([]any); len(cols) != 2 {
		t.Fatalf("columns = %v", cols)
	}
}

// Sockets whose postgres_changes deliveries are identical (same data,
// binding ids, topic and serializer) share one frame; any difference gets
// its own, and a channel's several matching bindings make one message.
func TestPostgresChangesFramesShared(t *testing.T) {
	srv, conns, _ := benchConns(t, 4, phoenix.V1)
	// Each socket writes to its own sink, which keeps what it is handed.
	sinks := make([]*sinkTransport, len(conns))
	for i := range sinks {
		sinks[i] = newSinkTransport(true)
	}
	for i := range 3 {
		conns[i] = sinkConn(srv, uint64(i), phoenix.V1, sinks[i])
	}
	conns[3] = sinkConn(srv, 3, phoenix.V2, sinks[3])
	join := func(c *conn, topic string, bindings ...string) {
		ch := &channel{name: topic, joinRef: "1"}
		for _, raw := range bindings {
			b, err := filters.ParseBinding([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			s := newChangesSub(c, ch, topic, b)
			ch.subs = append(ch.subs, s)
			srv.hub.changes.Add(s.b, s)
		}
	}
	all := `{"event":"*","schema":"public","table":"service"}`
	updates := `{"event":"UPDATE","schema":"public","table":"service"}`
	join(conns[0], "realtime:board", all)
	join(conns[1], "realtime:board", all)
	join(conns[2], "realtime:board", all, updates)
	join(conns[3], "realtime:board", all)
	srv.hub.Route(serviceUpdate("1", "1", "2"))
	queued := func(c *conn) wsconn.Frame {
		sinks[c.id].waitFor(1)
		got := sinks[c.id].written()
		if len(got) != 1 {
			t.Fatalf("socket %d was written %d frames, want 1", c.id, len(got))
		}
		return got[0]
	}
	frame := func(c *conn) []byte {
		f := queued(c)
		return slices.Concat(f.Pre, f.Data, f.Post)
	}
	f0, f1, f2, f3 := frame(conns[0]), frame(conns[1]), frame(conns[2]), frame(conns[3])
	// Identical deliveries share the payload's bytes, whatever the
	// socket's serializer; only the envelope is the socket's own.
	if &queued(conns[0]).Data[0] != &queued(conns[1]).Data[0] || &queued(conns[0]).Data[0] != &queued(conns[3]).Data[0] {
		t.Error("sockets with identical deliveries got separately built payloads")
	}
	if !bytes.Equal(f0, f1) {
		t.Errorf("same channel, same serializer, different frames: %s / %s", f0, f1)
	}
	if bytes.Equal(f0, f2) || !bytes.Contains(f2, []byte(`"ids":[`)) || bytes.Count(f2, []byte(",")) <= bytes.Count(f0, []byte(",")) {
		t.Errorf("a channel with two matching bindings: %s", f2)
	}
	if bytes.Equal(f0, f3) || f3[0] != '[' {
		t.Errorf("vsn 2.0.0 socket got %s", f3)
	}
	var m struct {
		Payload struct {
			IDs  []uint32 `json:"ids"`
			Data struct {
				Record map[string]any `json:"record"`
			} `json:"data"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(f2, &m); err != nil || len(m.Payload.IDs) != 2 || m.Payload.Data.Record["status_id"] == nil {
		t.Errorf("two-binding frame: %v %+v", err, m.Payload)
	}
}
