package gateway

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/pgrealtime/realtime/replication"
)

// A client that stops reading makes the router's non-blocking writes
// leave bytes behind, often in the middle of a frame. Those go out first,
// through the socket's own writer, and every change arrives intact and in
// order once the client reads again.
func TestRoutedWriteLeftBehindIsSentFirst(t *testing.T) {
	ts := newTestServer(t, func(c *Options) {
		c.OutboundQueueBytes, c.SlowConsumerGrace = 1<<20, 30*time.Second
	})
	cl := ts.dial(t, "")
	joinTopic(t, cl, "realtime:public:service", "1")
	// Some 40 MB: more than the kernel buffers of both ends hold.
	const changes = 600
	name := strings.Repeat("x", 64<<10)
	routed := make(chan struct{})
	go func() {
		defer close(routed)
		for i := range changes {
			ts.hub.Route(replication.Batch{Commit: true, CommitLSN: pglogrepl.LSN(100 + i), Changes: []replication.Change{{
				Op: replication.Insert, Rel: serviceRelation(), CommitTime: time.Now(),
				New: []replication.Value{text(strconv.Itoa(i)), text(name), text("1")},
			}}})
		}
	}()
	time.Sleep(300 * time.Millisecond) // the client lags
	for i := range changes {
		m := cl.read()
		rec, _ := m["payload"].(map[string]any)["record"].(map[string]any)
		if m["event"] != "INSERT" || rec["id"] != strconv.Itoa(i) || rec["name"] != name {
			b, _ := json.Marshal(rec["id"])
			t.Fatalf("change %d: got %v with id %s", i, m["event"], b)
		}
	}
	<-routed
}

// A socket idle for longer than WriteTimeout still takes the router's
// writes: a deadline left in the past by the last write fails even a
// write that would not wait, so it is moved first.
func TestRoutedWriteAfterAnIdleSpell(t *testing.T) {
	const timeout = 100 * time.Millisecond
	ts := newTestServer(t, func(c *Options) { c.WriteTimeout = timeout })
	cl := ts.dial(t, "")
	joinTopic(t, cl, "realtime:*", "1")
	for range 2 {
		time.Sleep(2 * timeout)
		ts.hub.Route(serviceUpdate("1", "1", "2"))
		if m := cl.read(); m["event"] != "UPDATE" {
			t.Fatalf("after an idle spell: %v", m)
		}
	}
}
