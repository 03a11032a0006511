package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pgrealtime/realtime/replication"
)

// A change past MAX_RECORD_BYTES still reaches its subscribers, with the
// original's 413 and only the small values.
func TestRecordOverLimitIsMarkedAndTrimmed(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.MaxRecordBytes = 1000 })
	v1 := ts.dial(t, "vsn=1.0.0")
	joinV1(t, v1, "realtime:public:todos:id=eq.7", "1")
	v2 := ts.dial(t, "vsn=2.0.0")
	v2.send(`["1","1","realtime:room1","phx_join",{"config":{"postgres_changes":[{"event":"INSERT","schema":"public","table":"todos"}]}}]`)
	v2.readV2() // reply
	v2.readV2() // system "Subscribed to PostgreSQL"

	ts.hub.Route(todoChange(replication.Insert, "7", strings.Repeat("x", 2000), "t"))
	ts.hub.Route(todoChange(replication.Insert, "8", "small", "f"))

	m := v1.read()
	p := m["payload"].(map[string]any)
	if fmt.Sprint(p["errors"]) != "[Error 413: Payload Too Large]" {
		t.Fatalf("v1 errors = %v", p["errors"])
	}
	rec := p["record"].(map[string]any)
	if _, has := rec["title"]; has || rec["id"] != "7" || rec["done"] != "t" {
		t.Fatalf("v1 record = %v", rec)
	}
	_, _, _, _, p2 := v2.readV2()
	data := p2["data"].(map[string]any)
	rec = data["record"].(map[string]any)
	if fmt.Sprint(data["errors"]) != "[Error 413: Payload Too Large]" || rec["id"] != float64(7) || rec["title"] != nil {
		t.Fatalf("v2 data = %v", data)
	}
	_, _, _, _, p2 = v2.readV2()
	data = p2["data"].(map[string]any)
	if data["errors"] != nil || data["record"].(map[string]any)["title"] != "small" {
		t.Fatalf("a small change after a large one: %v", data)
	}
}

// Joins past MAX_JOINS_PER_SECOND are refused with a reason; the socket and
// its channels stay.
func TestJoinFloodIsRefused(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.MaxJoinsPerSecond, c.MaxChannelsPerSocket = 5, 1000 })
	c := ts.dial(t, "vsn=1.0.0")
	refused := 0
	for i := range 50 {
		c.send(fmt.Sprintf(`{"topic":"realtime:public:t%d","event":"phx_join","payload":{},"ref":"%d"}`, i, i))
	}
	for range 50 {
		status, resp := reply(c.read())
		if status == "error" {
			if !strings.Contains(fmt.Sprint(resp["reason"]), "ClientJoinRateLimitReached") {
				t.Fatalf("refusal reason: %v", resp)
			}
			refused++
		}
	}
	// At most two windows can fall inside the burst.
	if refused < 40 {
		t.Fatalf("%d of 50 joins refused, want at least 40", refused)
	}
	c.send(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"hb"}`)
	if status, _ := reply(c.read()); status != "ok" {
		t.Fatal("socket unusable after the flood")
	}
}

// Past MAX_SOCKETS a new socket is refused with 503 and a reason, and one
// is admitted again once a socket left.
func TestMaxSockets(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.MaxSockets = 2 })
	a := ts.dial(t, "vsn=1.0.0")
	ts.dial(t, "vsn=1.0.0")
	_, resp, err := websocket.Dial(t.Context(), ts.url+"/socket/websocket?vsn=1.0.0", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third socket: err %v, resp %v", err, resp)
	}
	a.ws.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		ws, _, err := websocket.Dial(t.Context(), ts.url+"/socket/websocket?vsn=1.0.0", nil)
		if err == nil {
			ws.CloseNow()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never admitted again: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With SLOW_CONSUMER_GRACE_MS=0 a full queue closes the socket at once:
// one batch far larger than what the socket and its queue hold is routed
// without waiting, and the socket is closed as a slow consumer.
func TestZeroGraceClosesAFullSocket(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.OutboundQueueBytes, c.SlowConsumerGrace, c.WriteTimeout = 16<<10, 0, time.Second })
	slow := dialTinyBuffer(t, ts.url+"/socket/websocket")
	slow.Write(t.Context(), websocket.MessageText, []byte(`{"topic":"realtime:*","event":"phx_join","payload":{},"ref":"1"}`))
	for ts.hub.stats.channels.Load() != 1 {
		time.Sleep(time.Millisecond) // the join is handled
	}
	big := serviceUpdate("1", "1", "2")
	for len(big.Changes) < 20000 {
		big.Changes = append(big.Changes, big.Changes[0])
	}
	ts.hub.Route(big)
	// The socket is closing; its reason is counted once its goroutines end.
	deadline := time.Now().Add(10 * time.Second)
	for ts.srv.disconnects[reasonSlowConsumer].Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the never-reading socket was not closed as a slow consumer")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
