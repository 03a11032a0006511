package gateway

import (
	"testing"

	"github.com/coder/websocket"

	"github.com/pgrealtime/realtime/gateway/broadcast"
	"github.com/pgrealtime/realtime/phoenix"
)

func TestPresence(t *testing.T) {
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

// A stored broadcast sent as a binary JSON payload reaches a vsn 1.0.0
// member as JSON with its stored id in meta, as it reaches vsn 2.0.0
// members in the binary frame's metadata.
func TestStoredBinaryBroadcastKeepsItsIDForVsn1(t *testing.T) {
	ts := newTestServer(t, nil)
	old := ts.dial(t, "vsn=1.0.0")
	old.send(`{"topic":"realtime:room1","event":"phx_join","payload":{"config":{}},"ref":"1","join_ref":"1"}`)
	old.read()
	ts.hub.sendRoom(RoomMessage{Room: RoomRef{Topic: "realtime:room1"}, ID: "id-1",
		Binary: &BinaryBroadcast{Event: "kept", Metadata: broadcast.IDMetadata("id-1"), Encoding: phoenix.EncodingJSON, Payload: []byte(`{"z":3}`)}}, nil)
	m := old.read()
	p, _ := m["payload"].(map[string]any)
	meta, _ := p["meta"].(map[string]any)
	if m["event"] != "broadcast" || p["event"] != "kept" || meta["id"] != "id-1" {
		t.Fatalf("vsn 1.0.0 member got %v", m)
	}
}
