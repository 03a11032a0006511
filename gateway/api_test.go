package gateway

import (
	"net/http"
	"strings"
	"testing"
)

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
