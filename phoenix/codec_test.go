package phoenix

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestV1Encode(t *testing.T) {
	m := Message{Topic: "realtime:public:service:status_id=eq.2", Event: "UPDATE", Payload: json.RawMessage(`{"a":1}`)}
	got := string(V1.Append(nil, m))
	want := `{"event":"UPDATE","payload":{"a":1},"ref":null,"topic":"realtime:public:service:status_id=eq.2"}`
	if got != want {
		t.Fatalf("V1.Append = %s, want %s", got, want)
	}
}

func TestV2Encode(t *testing.T) {
	m := Message{JoinRef: "1", Ref: "", Topic: "realtime:room1", Event: "system", Payload: json.RawMessage(`{}`)}
	got := string(V2.Append(nil, m))
	want := `["1",null,"realtime:room1","system",{}]`
	if got != want {
		t.Fatalf("V2.Append = %s, want %s", got, want)
	}
}

func TestReply(t *testing.T) {
	req := Message{JoinRef: "1", Ref: "5", Topic: "phoenix", Event: EventHeartbeat}
	got := string(V1.Append(nil, Reply(req, StatusOK, nil)))
	want := `{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"5","topic":"phoenix"}`
	if got != want {
		t.Fatalf("reply = %s, want %s", got, want)
	}
	got = string(V2.Append(nil, ErrorReply(req, `bad "x"`)))
	want = `["1","5","phoenix","phx_reply",{"response":{"reason":"bad \"x\""},"status":"error"}]`
	if got != want {
		t.Fatalf("error reply = %s, want %s", got, want)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		codec Codec
		frame string
		want  Message
	}{
		{"v1 join", V1, `{"topic":"realtime:*","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}`,
			Message{JoinRef: "1", Ref: "1", Topic: "realtime:*", Event: "phx_join", Payload: json.RawMessage(`{}`)}},
		{"v1 null ref", V1, `{"topic":"phoenix","event":"heartbeat","payload":{},"ref":null}`,
			Message{Topic: "phoenix", Event: "heartbeat", Payload: json.RawMessage(`{}`)}},
		{"v1 numeric ref", V1, `{"topic":"phoenix","event":"heartbeat","payload":{},"ref":7}`,
			Message{Ref: "7", Topic: "phoenix", Event: "heartbeat", Payload: json.RawMessage(`{}`)}},
		{"v2", V2, `["1","2","realtime:room1","phx_leave",{}]`,
			Message{JoinRef: "1", Ref: "2", Topic: "realtime:room1", Event: "phx_leave", Payload: json.RawMessage(`{}`)}},
		{"v2 nulls", V2, `[null,"4","phoenix","heartbeat",{}]`,
			Message{Ref: "4", Topic: "phoenix", Event: "heartbeat", Payload: json.RawMessage(`{}`)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.codec.Decode([]byte(tc.frame))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decode = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name      string
		codec     Codec
		frame     string
		wantTopic string
		wantRef   string
	}{
		{"v1 not json", V1, `{"topic":`, "", ""},
		{"v1 array", V1, `["1","2","t","e",{}]`, "", ""},
		{"v1 missing payload", V1, `{"topic":"realtime:x","event":"phx_join","ref":"3"}`, "realtime:x", "3"},
		{"v1 topic number", V1, `{"topic":1,"event":"phx_join","payload":{},"ref":"3"}`, "", "3"},
		{"v1 event object", V1, `{"topic":"t","event":{},"payload":{},"ref":"3"}`, "t", "3"},
		{"v2 short", V2, `["1","2","t"]`, "", ""},
		{"v2 object", V2, `{"topic":"t"}`, "", ""},
		{"v2 bad ref", V2, `["1",{},"t","e",{}]`, "t", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.codec.Decode([]byte(tc.frame))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode(%s) err = %v, want DecodeError", tc.frame, err)
			}
			if de.Topic != tc.wantTopic || de.Ref != tc.wantRef {
				t.Fatalf("DecodeError topic=%q ref=%q, want %q %q", de.Topic, de.Ref, tc.wantTopic, tc.wantRef)
			}
			if de.Reason == "" {
				t.Fatal("empty reason")
			}
		})
	}
}

func TestCodecFor(t *testing.T) {
	for vsn, want := range map[string]Codec{"": V1, "1.0.0": V1, "2.0.0": V2} {
		got, err := CodecFor(vsn)
		if err != nil || got != want {
			t.Fatalf("CodecFor(%q) = %v, %v", vsn, got, err)
		}
	}
	if _, err := CodecFor("3.0.0"); !errors.Is(err, ErrUnsupportedVsn) {
		t.Fatalf("CodecFor(3.0.0) err = %v", err)
	}
}

func TestAppendStringIsValidJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f\n\t", "é ü 世界", "\xff\xfe", "\u2028\u2029", "</script>"} {
		b := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("AppendString(%q) = %s: invalid JSON: %v", s, b, err)
		}
		want := s
		if s == "\xff\xfe" {
			want = "\ufffd\ufffd"
		}
		if back != want {
			t.Fatalf("round trip %q = %q", s, back)
		}
	}
}
