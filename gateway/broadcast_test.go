package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pgrealtime/realtime/phoenix"
)

func TestBroadcastSelfAckAndBinary(t *testing.T) {
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
