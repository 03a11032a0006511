package gateway

import (
	"testing"

	"github.com/pgrealtime/realtime/phoenix"
)

// A stored broadcast sent as a binary JSON payload reaches a vsn 1.0.0
// member as JSON with its stored id in meta, as it reaches vsn 2.0.0
// members in the binary frame's metadata.
func TestStoredBinaryBroadcastKeepsItsIDForVsn1(t *testing.T) {
	ts := newTestServer(t, nil)
	old := ts.dial(t, "vsn=1.0.0")
	old.send(`{"topic":"realtime:room1","event":"phx_join","payload":{"config":{}},"ref":"1","join_ref":"1"}`)
	old.read()
	ts.hub.sendRoom(RoomMessage{Room: RoomRef{Topic: "realtime:room1"}, ID: "id-1",
		Binary: &BinaryBroadcast{Event: "kept", Metadata: idMetadata("id-1"), Encoding: phoenix.EncodingJSON, Payload: []byte(`{"z":3}`)}}, nil)
	m := old.read()
	p, _ := m["payload"].(map[string]any)
	meta, _ := p["meta"].(map[string]any)
	if m["event"] != "broadcast" || p["event"] != "kept" || meta["id"] != "id-1" {
		t.Fatalf("vsn 1.0.0 member got %v", m)
	}
}
