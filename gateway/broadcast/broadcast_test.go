package broadcast

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pgrealtime/realtime/gateway/cluster"
	"github.com/pgrealtime/realtime/phoenix"
)

func TestCheck(t *testing.T) {
	if err := CheckText([]byte(`{"a":1}`), 7); err != nil {
		t.Fatalf("CheckText at the limit: %v", err)
	}
	if err := CheckText([]byte(`{"a":12}`), 7); err == nil || err.Error() != "broadcast payload of 8 bytes is over the limit of 7 bytes" {
		t.Fatalf("CheckText over the limit: %v", err)
	}
	ok := phoenix.BinaryMessage{Topic: "realtime:room1", Event: "e", Encoding: phoenix.EncodingJSON, Payload: []byte(`{}`)}
	for name, tc := range map[string]struct {
		edit func(*phoenix.BinaryMessage)
		want string
	}{
		"ok":          {func(*phoenix.BinaryMessage) {}, ""},
		"raw bytes":   {func(m *phoenix.BinaryMessage) { m.Encoding, m.Payload = phoenix.EncodingBinary, []byte{0xff} }, ""},
		"too large":   {func(m *phoenix.BinaryMessage) { m.Payload = []byte(`{"long":true}`) }, "over the limit"},
		"bad JSON":    {func(m *phoenix.BinaryMessage) { m.Payload = []byte(`{`) }, "not valid JSON"},
		"long event":  {func(m *phoenix.BinaryMessage) { m.Event = strings.Repeat("e", 256) }, phoenix.ErrFieldTooLong.Error()},
		"long topic":  {func(m *phoenix.BinaryMessage) { m.Topic = strings.Repeat("t", 256) }, phoenix.ErrFieldTooLong.Error()},
		"long header": {func(m *phoenix.BinaryMessage) { m.Metadata = make([]byte, 256) }, phoenix.ErrFieldTooLong.Error()},
	} {
		t.Run(name, func(t *testing.T) {
			m := ok
			tc.edit(&m)
			err := CheckBinary(m, 10)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("CheckBinary = %v, want %q", err, tc.want)
			}
		})
	}
}

// A JSON broadcast is the push's payload under each serializer.
func TestRenderJSON(t *testing.T) {
	m := cluster.RoomMessage{Room: cluster.RoomRef{Topic: "realtime:room1"}, JSON: json.RawMessage(`{"event":"e","payload":{"x":1},"type":"broadcast"}`)}
	f, err := Render(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, codec := range []phoenix.Codec{phoenix.V1, phoenix.V2} {
		frame, binary := f.For(codec)
		want := codec.Append(nil, phoenix.Message{Topic: "realtime:room1", Event: phoenix.EventBroadcast, Payload: m.JSON})
		if binary || string(frame) != string(want) {
			t.Errorf("vsn %s: %q (binary %v), want %q", codec.Vsn(), frame, binary, want)
		}
		if again, _ := f.For(codec); &again[0] != &frame[0] {
			t.Errorf("vsn %s: rendered twice", codec.Vsn())
		}
	}
}

// A binary broadcast is a kind 4 frame for vsn 2.0.0; vsn 1.0.0 gets its
// JSON form, with a stored broadcast's id in meta, or nothing for a raw
// payload.
func TestRenderBinary(t *testing.T) {
	room := cluster.RoomRef{Topic: "realtime:room1"}
	stored := cluster.RoomMessage{Room: room, ID: "id-1",
		Binary: &cluster.BinaryBroadcast{Event: "kept", Metadata: IDMetadata("id-1"), Encoding: phoenix.EncodingJSON, Payload: []byte(`{"z":3}`)}}
	f, err := Render(stored)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := phoenix.AppendUserBroadcast(nil, "realtime:room1", "kept", []byte(`{"id":"id-1"}`), phoenix.EncodingJSON, []byte(`{"z":3}`))
	if frame, binary := f.For(phoenix.V2); !binary || string(frame) != string(want) {
		t.Fatalf("vsn 2.0.0: %q (binary %v), want %q", frame, binary, want)
	}
	frame, binary := f.For(phoenix.V1)
	m, err := phoenix.V1.Decode(frame)
	if binary || err != nil {
		t.Fatalf("vsn 1.0.0: %q (binary %v): %v", frame, binary, err)
	}
	var p struct {
		Event   string
		Type    string
		Meta    struct{ ID string }
		Payload struct{ Z int }
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil || m.Event != phoenix.EventBroadcast || p.Event != "kept" || p.Type != "broadcast" || p.Meta.ID != "id-1" || p.Payload.Z != 3 {
		t.Fatalf("vsn 1.0.0 got %s %s: %v", m.Event, m.Payload, err)
	}

	raw := cluster.RoomMessage{Room: room, Binary: &cluster.BinaryBroadcast{Event: "raw", Encoding: phoenix.EncodingBinary, Payload: []byte{1, 2}}}
	if f, err = Render(raw); err != nil {
		t.Fatal(err)
	}
	if frame, _ := f.For(phoenix.V1); frame != nil {
		t.Fatalf("vsn 1.0.0 got %q for a raw binary payload", frame)
	}
	long := cluster.RoomMessage{Room: room, Binary: &cluster.BinaryBroadcast{Event: strings.Repeat("e", 256)}}
	if _, err := Render(long); !errors.Is(err, phoenix.ErrFieldTooLong) {
		t.Fatalf("Render of an unframeable broadcast: %v", err)
	}
}
