package payload

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

func TestIsMessagesRelation(t *testing.T) {
	for _, tc := range []struct {
		schema, table string
		want          bool
	}{
		{"realtime", "messages", true},
		{"realtime", "messages_2026_11_30", true},
		{"realtime", "messages_2026_1_30", false},
		{"realtime", "messages_archive", false},
		{"public", "messages", false},
		{"realtime", "subscription", false},
	} {
		rel := replication.NewRelation(1, tc.schema, tc.table, 'd', nil)
		if got := IsMessagesRelation(rel); got != tc.want {
			t.Errorf("IsMessagesRelation(%s.%s) = %v, want %v", tc.schema, tc.table, got, tc.want)
		}
	}
}

// messageRow builds an INSERT of realtime.messages; a nil value is NULL.
func messageRow(vals map[string]*string) *replication.Change {
	names := []string{"topic", "extension", "payload", "event", "private", "updated_at", "inserted_at", "id", "binary_payload"}
	cols := make([]replication.Column, len(names))
	row := make([]replication.Value, len(names))
	for i, n := range names {
		cols[i] = replication.Column{Name: n}
		if v := vals[n]; v != nil {
			row[i] = replication.Value{State: replication.Text, Text: *v}
		}
	}
	return &replication.Change{Op: replication.Insert, Rel: replication.NewRelation(1, "realtime", "messages_2026_11_30", 'd', cols), New: row}
}

func ptr(s string) *string { return &s }

func TestParseBroadcast(t *testing.T) {
	base := func() map[string]*string {
		return map[string]*string{"topic": ptr("room"), "extension": ptr("broadcast"), "payload": ptr(`{"a": 1, "id": "x"}`),
			"event": ptr("ev"), "private": ptr("t"), "id": ptr("0b6f1d0e-7f3a-4c1e-9d55-2b8f2f6a8c11")}
	}
	m, err := ParseBroadcast(messageRow(base()))
	if err != nil || m.Topic != "room" || m.Event != "ev" || !m.Private || string(m.JSON) != `{"a": 1, "id": "x"}` {
		t.Fatalf("ParseBroadcast = %+v, %v", m, err)
	}
	bin := base()
	bin["payload"], bin["binary_payload"] = nil, ptr(`\x01ff`)
	if m, err := ParseBroadcast(messageRow(bin)); err != nil || !bytes.Equal(m.Binary, []byte{1, 0xff}) || m.JSON != nil {
		t.Errorf("binary row: %+v, %v", m, err)
	}
	for col, val := range map[string]*string{"topic": nil, "event": nil, "id": nil, "private": nil, "payload": ptr("{not json")} {
		v := base()
		v[col] = val
		if _, err := ParseBroadcast(messageRow(v)); err == nil || !strings.Contains(err.Error(), col) {
			t.Errorf("row with bad %s: err = %v, want one naming the column", col, err)
		}
	}
}

func TestRenderBroadcast(t *testing.T) {
	m := Broadcast{Topic: "room", Event: "ev", ID: "id-1", JSON: json.RawMessage(`{"n":1}`)}
	f := RenderBroadcast(m, false)
	var v1 struct {
		Topic, Event string
		Payload      map[string]any
	}
	if err := json.Unmarshal(f.Text[0], &v1); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": "broadcast", "event": "ev", "payload": map[string]any{"n": float64(1)}, "meta": map[string]any{"id": "id-1"}}
	if v1.Topic != "realtime:room" || v1.Event != "broadcast" || !jsonEqual(v1.Payload, want) {
		t.Errorf("vsn 1.0.0 frame = %s", f.Text[0])
	}
	// Kind 4: topic, event, metadata lengths, JSON encoding, then the fields.
	wantBin := append([]byte{phoenix.KindUserBroadcast, 13, 2, 13, phoenix.EncodingJSON}, "realtime:roomev"+`{"id":"id-1"}`+`{"n":1}`...)
	if !bytes.Equal(f.Binary, wantBin) {
		t.Errorf("vsn 2.0.0 frame = %q, want %q", f.Binary, wantBin)
	}
	bin := RenderBroadcast(Broadcast{Topic: "room", Event: "ev", ID: "id-1", Binary: []byte{0, 1}}, false)
	if bin.Text[0] != nil || bin.Text[1] != nil || bin.Binary[4] != phoenix.EncodingBinary {
		t.Errorf("binary payload: text frames %q, binary %q", bin.Text, bin.Binary)
	}
	// A replayed message says so in its metadata, for both serializers.
	r := RenderBroadcast(m, true)
	if !bytes.Contains(r.Text[1], []byte(`"meta":{"id":"id-1","replayed":true}`)) || !bytes.Contains(r.Binary, []byte(`{"id":"id-1","replayed":true}{"n":1}`)) {
		t.Errorf("replayed frames: text %s, binary %q", r.Text[1], r.Binary)
	}
}

// A vsn 2.0.0 socket gets the binary frame when there is one, else its
// text frame; a vsn 1.0.0 socket gets nothing of a binary payload.
func TestBroadcastFramesFor(t *testing.T) {
	f := BroadcastFrames{Text: [2][]byte{[]byte("v1"), []byte("v2")}, Binary: []byte("bin")}
	for _, tc := range []struct {
		f          BroadcastFrames
		v2         bool
		want       string
		binary, ok bool
	}{
		{f, false, "v1", false, true},
		{f, true, "bin", true, true},
		{BroadcastFrames{Text: f.Text}, true, "v2", false, true},
		{BroadcastFrames{Binary: f.Binary}, false, "", false, false},
	} {
		got, binary, ok := tc.f.For(tc.v2)
		if string(got) != tc.want || binary != tc.binary || ok != tc.ok {
			t.Errorf("For(%v) = %q, %v, %v; want %q, %v, %v", tc.v2, got, binary, ok, tc.want, tc.binary, tc.ok)
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
