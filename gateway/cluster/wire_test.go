package cluster

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestWireFormat pins the JSON of room and presence messages as gateways
// before the values moved out of package gateway sent it: nodes of one
// cluster in a rolling upgrade must read each other.
func TestWireFormat(t *testing.T) {
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"json broadcast", encodeRoom(RoomMessage{Room: RoomRef{Private: true, Topic: "realtime:room"},
			JSON: json.RawMessage(`{"event":"e","payload":{"n":1},"type":"broadcast"}`), ID: "id-1"}),
			`{"room":{"private":true,"topic":"realtime:room"},"json":{"event":"e","payload":{"n":1},"type":"broadcast"},"id":"id-1"}`},
		{"binary broadcast", encodeRoom(RoomMessage{Room: RoomRef{Topic: "realtime:bin"},
			Binary: &BinaryBroadcast{Event: "ev", Metadata: []byte(`{"id":"x"}`), Encoding: 1, Payload: []byte{0, 1, 2}}}),
			`{"room":{"topic":"realtime:bin"},"binary":{"event":"ev","metadata":"eyJpZCI6IngifQ==","encoding":1,"payload":"AAEC"}}`},
		{"presence sync", presenceWire{Node: "n1", Sync: &roomRefWire{Topic: "realtime:room"}},
			`{"node":"n1","sync":{"topic":"realtime:room"}}`},
		{"presence diff", presenceWire{Node: "n1", Diff: encodePresence(PresenceDiff{Room: RoomRef{Private: true, Topic: "realtime:room"}, Node: "n1", Full: true,
			Joins: []PresenceEntry{{Key: "k", Ref: "r1", Meta: json.RawMessage(`{"phx_ref":"r1","x":1}`)}}, Leaves: []PresenceEntry{{Key: "k2", Ref: "r2"}}})},
			`{"node":"n1","diff":{"room":{"private":true,"topic":"realtime:room"},"node":"n1","full":true,"joins":[{"key":"k","ref":"r1","meta":{"phx_ref":"r1","x":1}}],"leaves":[{"key":"k2","ref":"r2"}]}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("json.Marshal = %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestWireRoundTrip(t *testing.T) {
	rooms := []RoomMessage{
		{Room: RoomRef{Private: true, Topic: "realtime:a"}, JSON: json.RawMessage(`{"event":"e"}`), ID: "1"},
		{Room: RoomRef{Topic: "realtime:b"}, Binary: &BinaryBroadcast{Event: "ev", Encoding: 1, Payload: []byte{9}}},
	}
	for _, m := range rooms {
		b, _ := json.Marshal(encodeRoom(m))
		var w roomWire
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatal(err)
		}
		if got := w.decode(); !reflect.DeepEqual(got, m) {
			t.Errorf("room round trip = %+v, want %+v", got, m)
		}
	}
	p := PresenceDiff{Room: RoomRef{Topic: "realtime:c"}, Node: "n2", Joins: []PresenceEntry{{Key: "k", Ref: "r", Meta: json.RawMessage(`{"a":1}`)}}}
	b, _ := json.Marshal(presenceWire{Node: "n2", Diff: encodePresence(p)})
	var w presenceWire
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	if got := w.Diff.decode(); !reflect.DeepEqual(got, p) {
		t.Errorf("presence round trip = %+v, want %+v", got, p)
	}
}
