package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

// readV2 reads one text frame of a vsn 2.0.0 socket.
func (c *client) readV2() (joinRef, ref any, topic, event string, payload map[string]any) {
	c.t.Helper()
	raw := c.readRaw()
	var arr []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &arr); err != nil || len(arr) != 5 {
		c.t.Fatalf("not a v2 frame: %s", raw)
	}
	json.Unmarshal(arr[0], &joinRef)
	json.Unmarshal(arr[1], &ref)
	json.Unmarshal(arr[2], &topic)
	json.Unmarshal(arr[3], &event)
	json.Unmarshal(arr[4], &payload)
	return
}

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

func TestV2PostgresChanges(t *testing.T) {
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

func TestV2BadConfigAndFilters(t *testing.T) {
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

func TestV2BroadcastSelfAckAndBinary(t *testing.T) {
	ts := newTestServer(t, nil)
	a := ts.dial(t, "vsn=2.0.0")
	b := ts.dial(t, "vsn=2.0.0")
	old := ts.dial(t, "vsn=1.0.0")
	a.send(`["1","1","realtime:room1","phx_join",{"config":{"broadcast":{"ack":true,"self":true}}}]`)
	a.readV2()
	b.send(`["1","1","realtime:room1","phx_join",{"config":{"broadcast":{"self":false}}}]`)
	b.readV2()
	old.send(`{"topic":"realtime:room1","event":"phx_join","payload":{"config":{}},"ref":"1","join_ref":"1"}`)
	old.read()

	// Text broadcast from b (self false): a and old get it, b does not.
	b.send(`["1","2","realtime:room1","broadcast",{"type":"broadcast","event":"cursor","payload":{"x":1}}]`)
	if _, _, _, event, p := a.readV2(); event != "broadcast" || p["event"] != "cursor" {
		t.Fatalf("a got %s %v", event, p)
	}
	if m := old.read(); m["event"] != "broadcast" || m["payload"].(map[string]any)["event"] != "cursor" {
		t.Fatalf("v1 socket got %v", m)
	}
	// Binary broadcast from a (self true, ack true): b gets kind 4, a gets
	// it too and an ack, the vsn 1 socket gets JSON.
	frame, _ := phoenix.AppendUserBroadcastPush(nil, "1", "3", "realtime:room1", "move", nil, phoenix.EncodingJSON, []byte(`{"y":2}`))
	if err := a.ws.Write(t.Context(), websocket.MessageBinary, frame); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	typ, data, err := b.ws.Read(ctx)
	want, _ := phoenix.AppendUserBroadcast(nil, "realtime:room1", "move", nil, phoenix.EncodingJSON, []byte(`{"y":2}`))
	if err != nil || typ != websocket.MessageBinary || string(data) != string(want) {
		t.Fatalf("b got %v %q %v, want kind 4 %q", typ, data, err, want)
	}
	if m := old.read(); m["event"] != "broadcast" || m["payload"].(map[string]any)["payload"].(map[string]any)["y"] != float64(2) {
		t.Fatalf("v1 socket got %v", m)
	}
	gotSelf, gotAck := false, false
	for range 2 {
		typ, data, err := a.ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case typ == websocket.MessageBinary && string(data) == string(want):
			gotSelf = true
		case strings.Contains(string(data), `"phx_reply"`) && strings.Contains(string(data), `"3"`):
			gotAck = true
		}
	}
	if !gotSelf || !gotAck {
		t.Fatalf("sender: self=%v ack=%v", gotSelf, gotAck)
	}
	// A binary frame of the wrong kind gets a clear error; the socket lives.
	a.ws.Write(t.Context(), websocket.MessageBinary, []byte{4, 1, 1, 0, 1, 'x', 'y'})
	if _, _, _, _, p := a.readV2(); p["status"] != "error" {
		t.Fatalf("kind 4 from a client: %v", p)
	}
}

func TestV2Presence(t *testing.T) {
	ts := newTestServer(t, nil)
	a := ts.dial(t, "vsn=2.0.0")
	b := ts.dial(t, "vsn=2.0.0")
	a.send(`["1","1","realtime:lobby","phx_join",{"config":{"presence":{"key":"alice","enabled":true}}}]`)
	a.readV2()
	if _, _, _, event, p := a.readV2(); event != "presence_state" || len(p) != 0 {
		t.Fatalf("first presence_state: %s %v", event, p)
	}
	a.send(`["1","2","realtime:lobby","presence",{"type":"presence","event":"track","payload":{"mood":"happy"}}]`)
	gotReply, gotDiff := false, false
	for range 2 {
		_, _, _, event, p := a.readV2()
		switch event {
		case "phx_reply":
			gotReply = p["status"] == "ok"
		case "presence_diff":
			metas := p["joins"].(map[string]any)["alice"].(map[string]any)["metas"].([]any)
			gotDiff = metas[0].(map[string]any)["mood"] == "happy" && metas[0].(map[string]any)["phx_ref"] != nil
		}
	}
	if !gotReply || !gotDiff {
		t.Fatalf("track: reply=%v diff=%v", gotReply, gotDiff)
	}
	b.send(`["1","1","realtime:lobby","phx_join",{"config":{"presence":{"key":"bob","enabled":true}}}]`)
	b.readV2()
	if _, _, _, event, p := b.readV2(); event != "presence_state" || p["alice"] == nil {
		t.Fatalf("b presence_state: %s %v", event, p)
	}
	a.ws.Close(websocket.StatusNormalClosure, "bye")
	_, _, _, event, p := b.readV2()
	if event != "presence_diff" || p["leaves"].(map[string]any)["alice"] == nil {
		t.Fatalf("after a left: %s %v", event, p)
	}
	b.send(`["1","2","realtime:lobby","presence",{"type":"presence","event":"track","payload":"nope"}]`)
	if _, _, _, _, p := b.readV2(); p["status"] != "error" {
		t.Fatalf("non-map track: %v", p)
	}
}

func TestAPIBroadcast(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.dial(t, "vsn=2.0.0")
	c.send(`["1","1","realtime:room1","phx_join",{"config":{}}]`)
	c.readV2()
	httpURL := "http" + strings.TrimPrefix(ts.url, "ws")
	resp, err := http.Post(httpURL+"/api/broadcast", "application/json",
		strings.NewReader(`{"messages":[{"topic":"room1","event":"note","payload":{"n":1}}]}`))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, _, topic, event, p := c.readV2(); topic != "realtime:room1" || event != "broadcast" || p["event"] != "note" || p["type"] != "broadcast" {
		t.Fatalf("got %s %s %v", topic, event, p)
	}
	resp, _ = http.Post(httpURL+"/api/broadcast", "application/json", strings.NewReader(`{"messages":[{"event":"x"}]}`))
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("missing topic: %d", resp.StatusCode)
	}
	resp.Body.Close()
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

func TestV2SelectColumns(t *testing.T) {
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
	srv, conns := benchConns(t, 4, phoenix.V1)
	conns[3] = newConn(srv, 3, nil, phoenix.V2, "")
	conns[3].writing = true
	join := func(c *conn, topic string, bindings ...string) {
		ch := &channel{name: topic, joinRef: "1"}
		for _, raw := range bindings {
			b, err := filters.ParseBinding([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			s := newPGSub(c, ch, topic, b)
			ch.subs = append(ch.subs, s)
			srv.hub.pg.Add(s.b, s)
		}
	}
	all := `{"event":"*","schema":"public","table":"service"}`
	updates := `{"event":"UPDATE","schema":"public","table":"service"}`
	join(conns[0], "realtime:board", all)
	join(conns[1], "realtime:board", all)
	join(conns[2], "realtime:board", all, updates)
	join(conns[3], "realtime:board", all)
	srv.hub.Route(serviceUpdate("1", "1", "2"))
	queued := func(c *conn) outFrame {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.queue) != 1 {
			t.Fatalf("socket %d has %d frames queued, want 1", c.id, len(c.queue))
		}
		return c.queue[0]
	}
	frame := func(c *conn) []byte {
		f := queued(c)
		return slices.Concat(f.pre, f.data, f.post)
	}
	f0, f1, f2, f3 := frame(conns[0]), frame(conns[1]), frame(conns[2]), frame(conns[3])
	// Identical deliveries share the payload's bytes, whatever the
	// socket's serializer; only the envelope is the socket's own.
	if &queued(conns[0]).data[0] != &queued(conns[1]).data[0] || &queued(conns[0]).data[0] != &queued(conns[3]).data[0] {
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
