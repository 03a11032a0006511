package gateway

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
)

// A client may send its first frame in the same packet as the upgrade
// request; net/http has then read it already, and it must still be the
// first frame the socket reads (the hijacked reader is replaced).
func TestFrameSentWithTheUpgradeIsRead(t *testing.T) {
	ts := newTestServer(t, nil)
	rc := dialRaw(t, ts, maskedText(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"early"}`))
	if body := rc.frame(); !strings.Contains(body, `"ref":"early"`) || !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("reply to the early frame: %s", body)
	}
}

// Data frames are framed by us, not by coder/websocket: every length form
// (7, 16 and 64 bits), text and binary, reaches a real client intact, with
// pongs written by coder/websocket in between, on the same connection.
func TestDataFramesOfEveryLengthReachTheClient(t *testing.T) {
	ts := newTestServer(t, nil)
	cl := ts.dial(t, "")
	var sc *conn
	for deadline := time.Now().Add(5 * time.Second); sc == nil && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		ts.srv.mu.Lock()
		for c := range ts.srv.conns {
			sc = c
		}
		ts.srv.mu.Unlock()
	}
	if sc == nil || sc.sock == nil {
		t.Fatal("no hijacked server-side socket")
	}
	pinging := make(chan error, 1)
	go func() {
		for range 50 {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			err := cl.ws.Ping(ctx)
			cancel()
			if err != nil {
				pinging <- err
				return
			}
		}
		pinging <- nil
	}()
	sizes := []int{0, 1, 125, 126, 127, 1000, 65535, 65536, 300_000}
	for round := range 20 {
		for i, n := range sizes {
			payload := bytes.Repeat([]byte{byte('a' + i)}, n)
			bin := (round+i)%2 == 1
			if !sc.enqueue(payload, bin) {
				t.Fatal("enqueue refused")
			}
			typ, data, err := cl.ws.Read(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want := websocket.MessageText
			if bin {
				want = websocket.MessageBinary
			}
			if typ != want || !bytes.Equal(data, payload) {
				t.Fatalf("round %d, %d bytes: got %v of %d bytes, want %v", round, n, typ, len(data), want)
			}
		}
	}
	if err := <-pinging; err != nil {
		t.Fatalf("ping while frames were written: %v", err)
	}
}

// The write deadline moves with the writes: a socket idle for longer than
// WriteTimeout still writes, and one whose peer stops reading fails within
// it.
func TestWriteDeadlineFollowsTheWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 300 * time.Millisecond
		ts := newPipeServer(t, func(c *Options) { c.WriteTimeout = timeout })
		cl := ts.dial(t, "")
		joinTopic(t, cl, "realtime:*", "1")
		for range 3 {
			time.Sleep(2 * timeout) // idle past the last deadline
			ts.hub.Route(serviceUpdate("1", "1", "2"))
			if m := cl.read(); m["event"] != "UPDATE" {
				t.Fatalf("after an idle spell: %v", m)
			}
		}
	})
}
