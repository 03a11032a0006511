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

// TestHTTPAPIDeliversThroughTheHub posts as realtime-js httpSend() does,
// JSON and binary, and reads the broadcasts on a socket: the core mounts
// gateway/httpapi and hands its messages to the hub (the API's own tests
// are in httpapi).
func TestHTTPAPIDeliversThroughTheHub(t *testing.T) {
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

}

// TestHTTPAPICore checks what the core answers the API: the token check
// with the verifier's reason, and the sockets and health the admin route
// reports.
func TestHTTPAPICore(t *testing.T) {
	ts := secureServer(t)
	anon := signed(t, time.Now().Add(time.Hour))
	ts.dial(t, "vsn=2.0.0&apikey="+anon)
	status, body := do(t, http.DefaultClient, "POST", ts.httpURL()+"/api/broadcast", map[string]string{"apikey": "nope"})
	if status != http.StatusUnauthorized || !strings.HasPrefix(body, `{"message":"Unauthorized: `) {
		t.Errorf("broadcast with a bad token: %d %s", status, body)
	}
	if status, body := do(t, http.DefaultClient, "POST", ts.httpURL()+"/api/broadcast", map[string]string{"Authorization": "Bearer " + anon}); status != http.StatusAccepted {
		t.Errorf("broadcast with a valid token: %d %s", status, body)
	}
	// The socket counts once its handler has registered it, which may be
	// just after the client saw the upgrade.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		status, body = do(t, http.DefaultClient, "GET", ts.httpURL()+"/api/tenants/realtime-dev/health", map[string]string{"Authorization": "Bearer " + anon})
		if status == http.StatusOK && strings.Contains(body, `"healthy":true`) && strings.Contains(body, `"connected_cluster":1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenant health: %d %s, want healthy with 1 socket", status, body)
		}
	}
}

func TestAPIBroadcast(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.dial(t, "vsn=2.0.0")
	c.send(`["1","1","realtime:room1","phx_join",{"config":{}}]`)
	c.readV2()
	httpURL := "http" + strings.TrimPrefix(ts.url, "ws")
	resp, err := http.Post(httpURL+"/api/broadcast", "application/json",
		strings.NewReader(`{"messages":[{"topic":"room1","event":"note","payload":{"n":1}}]}`))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, _, topic, event, p := c.readV2(); topic != "realtime:room1" || event != "broadcast" || p["event"] != "note" || p["type"] != "broadcast" {
		t.Fatalf("got %s %s %v", topic, event, p)
	}
	resp, _ = http.Post(httpURL+"/api/broadcast", "application/json", strings.NewReader(`{"messages":[{"event":"x"}]}`))
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("missing topic: %d", resp.StatusCode)
	}
	resp.Body.Close()
}
