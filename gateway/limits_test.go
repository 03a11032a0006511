package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pgrealtime/realtime/gateway/outbox"
	"github.com/pgrealtime/realtime/replication"
)

// A change past MAX_RECORD_BYTES still reaches its subscribers, with the
// original's 413 and only the small values.
func TestRecordOverLimitIsMarkedAndTrimmed(t *testing.T) {
	ts := newTestServerHub(t, nil, func(h *HubOptions) { h.MaxRecordBytes = 1000 })
	v1 := ts.dial(t, "vsn=1.0.0")
	joinTopic(t, v1, "realtime:public:todos:id=eq.7", "1")
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
	ts := newTestServer(t, func(c *Options) { c.MaxJoinsPerSecond, c.MaxChannelsPerSocket = 5, 1000 })
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
	ts := newTestServer(t, func(c *Options) { c.MaxSockets = 2 })
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
	ts := newTestServer(t, func(c *Options) { c.OutboundQueueBytes, c.SlowConsumerGrace, c.WriteTimeout = 16<<10, -1, time.Second })
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
	for ts.srv.disconnects[outbox.SlowConsumer].Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the never-reading socket was not closed as a slow consumer")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A client that reads steadily, but slower than changes come, used to set
// the pace of every other client for as long as it kept reading: its grace
// started over whenever its writer took the queue. Now nobody waits for a
// minority of laggards: its queue runs over the limit, and it is closed
// once it has been behind for the grace.
func TestSteadySlowReaderCannotSetThePace(t *testing.T) {
	// More than the slow reader needs to drain its 16 KiB queue (about
	// 0.65 s), so that each single wait stays within the grace.
	const grace = time.Second
	ts := newTestServer(t, func(c *Options) {
		c.OutboundQueueBytes, c.SlowConsumerGrace, c.WriteTimeout = 16<<10, grace, 5*time.Second
	})
	slow := dialTinyBuffer(t, ts.url+"/socket/websocket")
	slow.Write(t.Context(), websocket.MessageText, []byte(`{"topic":"realtime:*","event":"phx_join","payload":{},"ref":"1"}`))
	fast := ts.dial(t, "")
	joinTopic(t, fast, "realtime:*", "1")
	time.Sleep(100 * time.Millisecond) // the slow join is handled
	stop := make(chan struct{})
	defer close(stop)
	go func() { // one frame every 10 ms: it never stops reading
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if _, _, err := slow.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	var fastGot atomic.Int64
	go func() {
		for {
			if _, _, err := fast.ws.Read(context.Background()); err != nil {
				return
			}
			fastGot.Add(1)
		}
	}()
	began := time.Now()
	n := 0
	// 2,000 changes a second, in batches of 20: the fast client keeps up,
	// the slow one reads 100 frames a second.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for ts.srv.disconnects[outbox.SlowConsumer].Load() == 0 && time.Since(began) < 20*time.Second {
		<-tick.C
		b := serviceUpdate("1", "1", "2")
		for len(b.Changes) < 20 {
			b.Changes = append(b.Changes, b.Changes[0])
		}
		ts.hub.Route(b)
		n += len(b.Changes)
	}
	took := time.Since(began)
	for deadline := time.Now().Add(10 * time.Second); fastGot.Load() < int64(n) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := fastGot.Load(); got != int64(n) {
		t.Fatalf("the fast client got %d of %d changes", got, n)
	}
	waited := time.Duration(ts.srv.routerWait.Load())
	t.Logf("%d changes routed in %v; routing waited %v for the slow reader before closing it", n, took.Round(time.Millisecond), waited.Round(time.Millisecond))
	if ts.srv.disconnects[outbox.SlowConsumer].Load() != 1 {
		t.Fatal("the slow but steady reader was never closed as a slow consumer")
	}
	// One laggard beside a client that keeps up is a minority: routing
	// waits for it once, at most MinorityWait, when it reaches twice its
	// queue limit (and, rarely, when the fast client happens to be behind
	// in the same batch, which makes them a majority).
	if waited > outbox.MinorityWait+50*time.Millisecond {
		t.Errorf("routing waited %v with one slow reader", waited)
	}
}

// A bulk write faster than any client reads: every client that keeps
// reading gets every change, however the router's waits fall among them.
func TestBulkWritePacedByReadingClients(t *testing.T) {
	ts := newTestServer(t, func(c *Options) { c.OutboundQueueBytes, c.SlowConsumerGrace = 16<<10, 2*time.Second })
	const clients, n = 5, 20000
	got := make(chan int, clients)
	for i := range clients {
		c := ts.dial(t, "")
		joinTopic(t, c, "realtime:*", fmt.Sprint(i+1))
		go readFrames(c.ws, n, got)
	}
	for range n / 20 {
		b := serviceUpdate("1", "1", "2")
		for len(b.Changes) < 20 {
			b.Changes = append(b.Changes, b.Changes[0])
		}
		ts.hub.Route(b)
	}
	for range clients {
		if count := <-got; count != n {
			t.Errorf("a reading client got %d of %d changes", count, n)
		}
	}
	t.Logf("routing waited %v in all", time.Duration(ts.srv.routerWait.Load()).Round(time.Millisecond))
	if d := ts.srv.disconnects[outbox.SlowConsumer].Load(); d != 0 {
		t.Fatalf("%d slow-consumer disconnects of clients that kept reading", d)
	}
}

// Many sockets that stop reading cost the router about one grace, not one
// each in turn: their budgets run from when their queues were found full.
func TestManyStuckSocketsCostOneGrace(t *testing.T) {
	const grace, stuck = 300 * time.Millisecond, 10
	ts := newTestServer(t, func(c *Options) {
		c.OutboundQueueBytes, c.SlowConsumerGrace, c.WriteTimeout = 16<<10, grace, 3*time.Second
	})
	for range stuck {
		ws := dialTinyBuffer(t, ts.url+"/socket/websocket")
		ws.Write(t.Context(), websocket.MessageText, []byte(`{"topic":"realtime:*","event":"phx_join","payload":{},"ref":"1"}`))
	}
	time.Sleep(200 * time.Millisecond) // the joins are handled
	// Large rows until every stuck socket is closed: first their kernel
	// buffers fill, then their queues, then the router waits.
	big := serviceUpdate("1", "1", strings.Repeat("x", 8000))
	began := time.Now()
	for ts.srv.disconnects[outbox.SlowConsumer].Load() < stuck && time.Since(began) < 60*time.Second {
		ts.hub.Route(big)
	}
	waited := time.Duration(ts.srv.routerWait.Load())
	closed := ts.srv.disconnects[outbox.SlowConsumer].Load()
	t.Logf("%d sockets that stopped reading closed after %v; routing waited %v for them", closed, time.Since(began).Round(time.Millisecond), waited.Round(time.Millisecond))
	if closed != stuck {
		t.Fatalf("%d of %d stuck sockets closed", closed, stuck)
	}
	if waited > stuck*grace/2 {
		t.Errorf("routing waited %v: the stuck sockets' graces were paid one after another", waited)
	}
}
