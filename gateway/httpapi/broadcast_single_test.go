package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/pgrealtime/realtime/phoenix"
)

// TestBroadcastSingle posts as realtime-js httpSend() does, JSON and
// binary, under both path prefixes, and checks the refusals.
func TestBroadcastSingle(t *testing.T) {
	ta := newTestAPI(t, Config{}, nil)
	ct := map[string]string{"Content-Type": "application/json"}
	// httpSend encodes the topic: "room 1" arrives as room%201.
	if status, _, body := post(t, http.DefaultClient, ta.url+"/realtime/v1/api/broadcast/room%201/events/cursor", `{"x":1}`, ct); status != http.StatusAccepted || body != "" {
		t.Fatalf("JSON httpSend: %d %q", status, body)
	}
	bin := map[string]string{"Content-Type": "application/octet-stream"}
	if status, _, _ := post(t, http.DefaultClient, ta.url+"/api/broadcast/room%201/events/blob", "\x00\x01\x02", bin); status != http.StatusAccepted {
		t.Fatalf("binary httpSend: %d", status)
	}
	sent := ta.core.messages()
	if len(sent) != 2 {
		t.Fatalf("sent %d messages, want 2", len(sent))
	}
	if m := sent[0]; m.Room.Topic != "realtime:room 1" || m.Room.Private || string(m.JSON) != `{"event":"cursor","payload":{"x":1},"type":"broadcast"}` || m.Binary != nil {
		t.Errorf("JSON message = %+v %s", m.Room, m.JSON)
	}
	if m := sent[1]; m.Room.Topic != "realtime:room 1" || m.JSON != nil || m.Binary == nil ||
		m.Binary.Event != "blob" || m.Binary.Encoding != phoenix.EncodingBinary || string(m.Binary.Payload) != "\x00\x01\x02" {
		t.Errorf("binary message = %+v %+v", m.Room, m.Binary)
	}

	for _, tc := range []struct {
		name, path, contentType, body string
		status                        int
	}{
		{"text/plain", "/api/broadcast/room/events/e", "text/plain", "hi", http.StatusUnsupportedMediaType},
		{"no payload", "/api/broadcast/room/events/e", "application/json", "", http.StatusUnprocessableEntity},
		{"not JSON", "/api/broadcast/room/events/e", "", "{nope", http.StatusUnprocessableEntity},
		{"event too long for a binary frame", "/api/broadcast/room/events/" + strings.Repeat("e", 300), "application/octet-stream", "x", http.StatusUnprocessableEntity},
		{"too large", "/api/broadcast/room/events/e", "application/json", `"` + strings.Repeat("x", 3_000_001) + `"`, http.StatusRequestEntityTooLarge},
	} {
		h := map[string]string{}
		if tc.contentType != "" {
			h["Content-Type"] = tc.contentType
		}
		if status, ct, _ := post(t, http.DefaultClient, ta.url+tc.path, tc.body, h); status != tc.status || ct != "application/json" {
			t.Errorf("%s: %d %s, want %d with a JSON body", tc.name, status, ct, tc.status)
		}
	}
	if n := len(ta.core.messages()); n != 2 {
		t.Errorf("refused requests sent %d messages", n-2)
	}
}

// TestBroadcastSinglePrivate: a private message the token may not write is
// accepted and not delivered; persist stores first and puts the id in
// meta, or answers 403 and 422 and sends nothing.
func TestBroadcastSinglePrivate(t *testing.T) {
	core := &fakeCore{refuse: map[string]bool{"secret/broadcast": true, "nostore/persistence": true}}
	ta := newTestAPI(t, Config{}, core)
	ct := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer user"}
	if status, _, _ := post(t, http.DefaultClient, ta.url+"/api/broadcast/secret/events/e?private=true", `{}`, ct); status != http.StatusAccepted {
		t.Fatalf("refused private message: %d, want 202", status)
	}
	if n := len(core.messages()); n != 0 {
		t.Fatalf("refused private message delivered")
	}
	if status, _, _ := post(t, http.DefaultClient, ta.url+"/api/broadcast/room/events/e?private=true&persist=true", `{"n":1}`, ct); status != http.StatusAccepted {
		t.Fatalf("persisted message: %d", status)
	}
	if status, _, _ := post(t, http.DefaultClient, ta.url+"/api/broadcast/room/events/b?private=true&persist[ttl]=60", "\x01", map[string]string{"Content-Type": "application/octet-stream", "Authorization": "Bearer user"}); status != http.StatusAccepted {
		t.Fatalf("persisted binary message: %d", status)
	}
	sent := core.messages()
	const id = "0b6f1d0e-7f3a-4c1e-9d55-2b8f2f6a8c11"
	if len(sent) != 2 || !sent[0].Room.Private || sent[0].ID != id ||
		string(sent[0].JSON) != `{"event":"e","meta":{"id":"`+id+`"},"payload":{"n":1},"type":"broadcast"}` ||
		sent[1].ID != id || string(sent[1].Binary.Metadata) != `{"id":"`+id+`"}` {
		t.Fatalf("persisted messages = %+v", sent)
	}
	for _, token := range core.mayWrite {
		if token != "user" {
			t.Errorf("write check with token %q, want the bearer's", token)
		}
	}

	status, _, body := post(t, http.DefaultClient, ta.url+"/api/broadcast/nostore/events/e?private=true&persist=true", `{}`, ct)
	if want := `{"error":"Unauthorized: You do not have permissions to store messages on this Channel topic: nostore (storing needs an INSERT policy on realtime.messages for extension 'persistence'); the message was not sent"}` + "\n"; status != http.StatusForbidden || body != want {
		t.Errorf("persist without the policy: %d %s", status, body)
	}
	core.storeErr = errors.New("the realtime schema is not in place")
	status, _, body = post(t, http.DefaultClient, ta.url+"/api/broadcast/room/events/e?private=true&persist=true", `{}`, ct)
	if status != http.StatusUnprocessableEntity || body != `{"error":"Unable to store the message: the realtime schema is not in place"}`+"\n" {
		t.Errorf("failed store: %d %s", status, body)
	}
	if n := len(core.messages()); n != 2 {
		t.Errorf("refused persists sent %d messages", n-2)
	}
}
