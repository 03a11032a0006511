package phoenix

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestUserBroadcastRoundTrip(t *testing.T) {
	frame, err := AppendUserBroadcastPush(nil, "1", "2", "realtime:room1", "cursor", nil, EncodingJSON, []byte(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeBinary(frame)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindUserBroadcastPush || m.JoinRef != "1" || m.Ref != "2" || m.Topic != "realtime:room1" ||
		m.Event != "cursor" || len(m.Metadata) != 0 || m.Encoding != EncodingJSON || string(m.Payload) != `{"x":1}` {
		t.Fatalf("decoded %+v", m)
	}
	out, err := AppendUserBroadcast(nil, m.Topic, m.Event, []byte(`{"id":"a"}`), m.Encoding, m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{4, 14, 6, 10, 1}, "realtime:room1"+"cursor"+`{"id":"a"}`+`{"x":1}`...)
	if !bytes.Equal(out, want) {
		t.Fatalf("kind 4 = %v, want %v", out, want)
	}
}

func TestDecodeBinaryPush(t *testing.T) {
	frame := append([]byte{0, 1, 1, 7, 9}, "12phoenixheartbeat{}"...)
	m, err := DecodeBinary(frame)
	if err != nil || m.Topic != "phoenix" || m.Event != "heartbeat" || m.Ref != "2" || string(m.Payload) != "{}" {
		t.Fatalf("DecodeBinary = %+v, %v", m, err)
	}
}

func TestDecodeBinaryErrors(t *testing.T) {
	for name, frame := range map[string][]byte{
		"empty":        {},
		"server kind":  {4, 1, 1, 0, 1, 'a', 'b'},
		"short header": {3, 1, 1},
		"short body":   {3, 1, 1, 20, 3, 0, 1, '1', '2', 'x'},
		"encoding 7":   {3, 0, 0, 1, 1, 0, 7, 't', 'e'},
		"empty topic":  {3, 0, 0, 0, 1, 0, 1, 'e'},
	} {
		_, err := DecodeBinary(frame)
		var de *DecodeError
		if !errors.As(err, &de) || de.Reason == "" {
			t.Errorf("%s: err = %v, want a DecodeError", name, err)
		}
	}
	if _, err := AppendUserBroadcast(nil, strings.Repeat("t", 256), "e", nil, 1, nil); !errors.Is(err, ErrFieldTooLong) {
		t.Fatalf("long topic: %v", err)
	}
}

func FuzzDecodeBinary(f *testing.F) {
	seed, _ := AppendUserBroadcastPush(nil, "1", "2", "realtime:room1", "cursor", []byte(`{"persist":true}`), EncodingJSON, []byte(`{"x":1}`))
	f.Add(seed)
	f.Add(append([]byte{0, 1, 1, 7, 9}, "12phoenixheartbeat{}"...))
	f.Add([]byte{3})
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := DecodeBinary(frame)
		if err != nil || m.Kind != KindUserBroadcastPush {
			return
		}
		again, err := AppendUserBroadcastPush(nil, m.JoinRef, m.Ref, m.Topic, m.Event, m.Metadata, m.Encoding, m.Payload)
		if err != nil || !bytes.Equal(again, frame) {
			t.Fatalf("re-encode of %v = %v, %v", frame, again, err)
		}
	})
}
