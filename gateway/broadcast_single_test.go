package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pgrealtime/realtime/phoenix"
)

// TestBroadcastSingle posts as realtime-js httpSend() does, JSON and
// binary, under both path prefixes, and checks the refusals.
func TestBroadcastSingle(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.dial(t, "vsn=2.0.0")
	c.send(`["1","1","realtime:room 1","phx_join",{"config":{}}]`)
	c.readV2()
	post := func(path, contentType, body string) (int, string) {
		t.Helper()
		h := map[string]string{}
		if contentType != "" {
			h["Content-Type"] = contentType
		}
		req, _ := http.NewRequestWithContext(t.Context(), "POST", ts.httpURL()+path, strings.NewReader(body))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Content-Type")
	}

	// httpSend encodes the topic: "room 1" arrives as room%201.
	if status, _ := post("/realtime/v1/api/broadcast/room%201/events/cursor", "application/json", `{"x":1}`); status != http.StatusAccepted {
		t.Fatalf("JSON httpSend: %d", status)
	}
	if _, _, topic, event, p := c.readV2(); topic != "realtime:room 1" || event != "broadcast" || p["event"] != "cursor" ||
		p["payload"].(map[string]any)["x"] != float64(1) {
		t.Fatalf("got %s %s %v", topic, event, p)
	}
	if status, _ := post("/api/broadcast/room%201/events/blob", "application/octet-stream", "\x00\x01\x02"); status != http.StatusAccepted {
		t.Fatalf("binary httpSend: %d", status)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	typ, data, err := c.ws.Read(ctx)
	want, _ := phoenix.AppendUserBroadcast(nil, "realtime:room 1", "blob", nil, phoenix.EncodingBinary, []byte("\x00\x01\x02"))
	if err != nil || typ != websocket.MessageBinary || string(data) != string(want) {
		t.Fatalf("binary broadcast: %v %q %v, want kind 4 %q", typ, data, err, want)
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
		if status, ct := post(tc.path, tc.contentType, tc.body); status != tc.status || ct != "application/json" {
			t.Errorf("%s: %d %s, want %d with a JSON body", tc.name, status, ct, tc.status)
		}
	}
}
