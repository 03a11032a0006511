package phoenix

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecode checks that neither serializer panics on arbitrary frames and
// that whatever decodes survives an encode/decode round trip unchanged.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"topic":"realtime:*","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}`))
	f.Add([]byte(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":null}`))
	f.Add([]byte(`["1","2","realtime:room1","phx_leave",{}]`))
	f.Add([]byte(`[null,"4","phoenix","heartbeat",{"a":[1,2,{"b":null}]}]`))
	f.Add([]byte(`{"topic":1}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		for _, c := range []Codec{V1, V2} {
			m, err := c.Decode(frame)
			if err != nil {
				continue
			}
			enc := c.Append(nil, m)
			if !json.Valid(enc) {
				t.Fatalf("%s: encoding of decoded %q is invalid JSON: %s", c.Vsn(), frame, enc)
			}
			back, err := c.Decode(enc)
			if err != nil {
				t.Fatalf("%s: re-decode of %s: %v", c.Vsn(), enc, err)
			}
			back.Payload = compact(back.Payload)
			m.Payload = compact(m.Payload)
			if c == V1 {
				m.JoinRef = "" // V1 frames from the server never carry join_ref.
			}
			if !reflect.DeepEqual(back, m) {
				t.Fatalf("%s: round trip %+v != %+v", c.Vsn(), back, m)
			}
		}
	})
}

func compact(p json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, p); err != nil {
		return p
	}
	return b.Bytes()
}

// FuzzEnvelope: the envelope around a payload is byte for byte the frame
// Append makes, for any topic and event, in both serializers.
func FuzzEnvelope(f *testing.F) {
	f.Add("realtime:public:notes", "postgres_changes", `{"data":1}`)
	f.Add("realtime:\"quoted\"\u2028", "ev\x00", `[]`)
	f.Fuzz(func(t *testing.T, topic, event, payload string) {
		if payload == "" {
			return // Append writes {} for an empty payload; envelopes wrap real ones
		}
		for _, c := range []Codec{V1, V2} {
			pre, post := c.Envelope(topic, event)
			got := append(append(append([]byte{}, pre...), payload...), post...)
			want := c.Append(nil, Message{Topic: topic, Event: event, Payload: []byte(payload)})
			if string(got) != string(want) {
				t.Fatalf("vsn %s: envelope gives %q, Append %q", c.Vsn(), got, want)
			}
		}
	})
}
