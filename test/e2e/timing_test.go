package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

// TestV1Heartbeat: a client with realtime-js's default heartbeat (30 s)
// outlives the server's 60 s idle timeout and still gets changes. A second
// client that sends nothing in that time is closed by the server, which
// shows the first one stays up because of its heartbeats.
func TestV1Heartbeat(t *testing.T) {
	t.Parallel()
	db, gw := setup(t)
	const topic = "realtime:public:service"
	chans := []channel{{Topic: topic, Events: []string{"*"}}}
	c := gw.startClient(t, "heartbeat", clientConfig{Channels: chans})
	silent := gw.startClient(t, "silent", clientConfig{Channels: chans, HeartbeatIntervalMs: 600_000})
	c.joined(t, topic)
	joined := silent.joined(t, topic)[topic]

	const window = 65 * time.Second
	c.noMessage(t, fmt.Sprintf("a socket close or error within %v", window), 0, window, isKind("close", "error"))

	// Every 30 s realtime-js 1.x sends a heartbeat, answered on topic
	// phoenix, and an access_token push (token null) to each joined channel,
	// never answered: no error reply, no phx_error or phx_close.
	var beats int
	for _, f := range c.all(0, isKind("frame")) {
		var reply struct{ Status string }
		if err := json.Unmarshal(f.Payload, &reply); err != nil {
			t.Errorf("frame payload: %v: %v", err, f)
		}
		switch {
		case f.Topic == "phoenix" && f.Event == "phx_reply" && reply.Status == "ok":
			beats++
		case f.Event == "phx_reply" && reply.Status != "ok", f.Event == "phx_error", f.Event == "phx_close":
			t.Errorf("unexpected frame: %v", f)
		}
	}
	if beats < 2 {
		t.Errorf("got %d heartbeat replies in %v, want at least 2", beats, window)
	}

	db.exec(t, `UPDATE public.service SET name = 'Reboque 65s' WHERE id = 1`)
	c.expect(t, "an UPDATE after the idle timeout", waitChange, isEvent(topic, "UPDATE", recordIs("name", "Reboque 65s")))

	// protocol/v1.md 1.1: Phoenix closes a socket after 60 s without a frame.
	closed := silent.expect(t, "the idle close of the silent client", 20*time.Second, isKind("close"))
	if idle := time.Duration((closed.RecvMS - joined.RecvMS) * float64(time.Millisecond)); idle < 55*time.Second || idle > 70*time.Second {
		t.Errorf("silent client closed %v after its join, want about 60 s", idle.Round(time.Millisecond))
	}
}

// TestV1Latency measures commit to realtime-js callback: 100 single-row
// UPDATEs, each committed once the previous one arrived. commit_timestamp
// and recv_ms come from the same host clock.
func TestV1Latency(t *testing.T) {
	t.Parallel()
	db, gw := setup(t)
	const topic = "realtime:public:service"
	c := gw.startClient(t, "latency", clientConfig{Channels: []channel{{Topic: topic, Events: []string{"UPDATE"}}}})
	c.joined(t, topic)

	const n = 100
	ms := make([]float64, 0, n)
	for i := range n {
		name := fmt.Sprintf("Reboque %d", i+1)
		db.exec(t, `UPDATE public.service SET name = $1 WHERE id = 1`, name)
		l := c.expect(t, "the UPDATE to "+name, waitChange, isEvent(topic, "UPDATE", recordIs("name", name)))
		commit := commitTime(t, l.change(t))
		ms = append(ms, l.RecvMS-float64(commit.UnixMicro())/1000)
	}
	slices.Sort(ms)
	median := (ms[n/2-1] + ms[n/2]) / 2
	p95 := ms[int(math.Ceil(0.95*n))-1]
	t.Logf("e2e latency commit->client: median=%.2fms p95=%.2fms max=%.2fms (n=%d)", median, p95, ms[n-1], n)
	if median > 1000 {
		t.Errorf("median latency %.0f ms, want well under 1 s", median)
	}
}
