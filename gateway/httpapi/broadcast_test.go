package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

func TestBroadcast(t *testing.T) {
	core := &fakeCore{refuse: map[string]bool{"secret/broadcast": true}}
	ta := newTestAPI(t, Config{}, core)
	status, _, body := post(t, http.DefaultClient, ta.url+"/api/broadcast", `{"messages":[
		{"topic":"room1","event":"note","payload":{"n":1}},
		{"topic":"room1","event":"stored","payload":{"n":2},"id":"abc","private":true},
		{"topic":"secret","event":"note","private":true},
		{"topic":"room2","event":"empty"}]}`, nil)
	if status != http.StatusAccepted || body != "" {
		t.Fatalf("POST: %d %q, want 202 with no body", status, body)
	}
	sent := core.messages()
	want := []struct {
		private bool
		topic   string
		json    string
	}{
		{false, "realtime:room1", `{"event":"note","payload":{"n":1},"type":"broadcast"}`},
		{true, "realtime:room1", `{"event":"stored","meta":{"id":"abc"},"payload":{"n":2},"type":"broadcast"}`},
		// secret: refused by the write check, skipped without a word.
		{false, "realtime:room2", `{"event":"empty","payload":{},"type":"broadcast"}`},
	}
	if len(sent) != len(want) {
		t.Fatalf("sent %d messages, want %d: %+v", len(sent), len(want), sent)
	}
	for i, w := range want {
		if m := sent[i]; m.Room.Private != w.private || m.Room.Topic != w.topic || string(m.JSON) != w.json {
			t.Errorf("message %d = %v %s %s, want %v %s %s", i, m.Room.Private, m.Room.Topic, m.JSON, w.private, w.topic, w.json)
		}
	}

	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"missing topic", `{"messages":[{"event":"x"}]}`, http.StatusUnprocessableEntity},
		{"not JSON", `{nope`, http.StatusUnprocessableEntity},
		{"too large", `{"messages":[{"topic":"t","event":"e","payload":"` + strings.Repeat("x", 3_100_000) + `"}]}`, http.StatusRequestEntityTooLarge},
	} {
		if status, ct, _ := post(t, http.DefaultClient, ta.url+"/realtime/v1/api/broadcast", tc.body, nil); status != tc.status || ct != "application/json" {
			t.Errorf("%s: %d %s, want %d with a JSON body", tc.name, status, ct, tc.status)
		}
	}
	if n := len(core.messages()); n != len(want) {
		t.Errorf("refused requests sent %d messages", n-len(want))
	}
}
