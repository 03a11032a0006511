// Package durability holds the end-to-end tests of what must never be lost:
// a gateway killed and restarted on a permanent slot, PostgreSQL restarted
// under a running gateway, a 200k-row transaction, and a clean SIGTERM.
// They drive the real gateway binary with a plain Phoenix client (vsn
// 1.0.0) and count every change.
package durability

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/pgrealtime/realtime/test/harness"
	"github.com/pgrealtime/realtime/test/localpg"
)

var (
	suite  localpg.Suite
	binary string
)

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "realtime-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Built without -race: these tests measure memory and move many rows.
	if binary, err = harness.Build(tmp, false); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := localpg.Main(m, &suite)
	if code == 0 {
		// Fail the run when a test left a goroutine behind.
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests: %v\n", err)
			code = 1
		}
	}
	os.RemoveAll(tmp)
	os.Exit(code)
}

const itemsSchema = `
CREATE TABLE public.items (id int8 PRIMARY KEY, n int4);
ALTER TABLE public.items REPLICA IDENTITY FULL;
CREATE PUBLICATION supabase_realtime FOR ALL TABLES;`

// counter is a Phoenix client joined to one topic that counts the rows it
// receives, by id.
type counter struct {
	t    *testing.T
	ws   *websocket.Conn
	mu   sync.Mutex
	seen map[int64]int
	n    int
	// distinct counts ids seen at least once: a cheap progress check.
	distinct int
	closeErr error
	done     chan struct{}
	// notices are the system messages received, as "status: message".
	notices []string
	// nBroadcasts counts broadcast events.
	nBroadcasts int
}

func newCounter(t *testing.T) *counter { return &counter{t: t, seen: map[int64]int{}} }

// connect dials the gateway (retrying while it starts) and joins topic.
func (c *counter) connect(port int, topic string) {
	c.t.Helper()
	c.connectWith(port, topic, map[string]any{})
}

// changesConfig is the join payload of a postgres_changes channel on every
// INSERT of table, as realtime-js 2.x sends it.
func changesConfig(table string) map[string]any {
	return map[string]any{"config": map[string]any{"postgres_changes": []any{
		map[string]any{"event": "INSERT", "schema": "public", "table": table}}}}
}

// connectWith dials and joins topic with the given join payload.
func (c *counter) connectWith(port int, topic string, payload map[string]any) {
	c.t.Helper()
	url := fmt.Sprintf("ws://127.0.0.1:%d/socket/websocket?vsn=1.0.0", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ws, _, err := websocket.Dial(c.t.Context(), url, nil)
		if err == nil {
			c.ws = ws
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("dial: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.ws.SetReadLimit(-1)
	join, _ := json.Marshal(map[string]any{"topic": topic, "event": "phx_join", "payload": payload, "ref": "1", "join_ref": "1"})
	if err := c.ws.Write(c.t.Context(), websocket.MessageText, join); err != nil {
		c.t.Fatal(err)
	}
	c.done = make(chan struct{})
	ws, done := c.ws, c.done
	joined := make(chan struct{})
	go c.read(ws, done, joined)
	go heartbeat(ws, done)
	// Rows committed before the join reply are not promised to the client.
	select {
	case <-joined:
	case <-done:
		c.t.Fatalf("socket closed before the join reply to %s", topic)
	case <-time.After(20 * time.Second):
		c.t.Fatalf("no join reply to %s within 20s", topic)
	}
}

func heartbeat(ws *websocket.Conn, done chan struct{}) {
	t := time.NewTicker(20 * time.Second)
	defer t.Stop()
	for ref := 100; ; ref++ {
		select {
		case <-done:
			return
		case <-t.C:
			ws.Write(context.Background(), websocket.MessageText,
				[]byte(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"`+strconv.Itoa(ref)+`"}`))
		}
	}
}

// frame is a change as a 1.x topic (record) or a postgres_changes channel
// (data.record) receives it.
type frame struct {
	Event   string `json:"event"`
	Ref     string `json:"ref"`
	Payload struct {
		Record map[string]any `json:"record"`
		Data   struct {
			Record map[string]any `json:"record"`
		} `json:"data"`
		Status   string          `json:"status"`
		Message  string          `json:"message"`
		Response json.RawMessage `json:"response"`
	} `json:"payload"`
}

func (c *counter) read(ws *websocket.Conn, done, joined chan struct{}) {
	defer close(done)
	for {
		_, data, err := ws.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.closeErr = err
			c.mu.Unlock()
			return
		}
		var f frame
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		record := f.Payload.Record
		switch f.Event {
		case "INSERT", "UPDATE":
		case "postgres_changes":
			record = f.Payload.Data.Record
		case "phx_reply":
			if f.Ref == "1" && f.Payload.Status == "ok" {
				close(joined)
			}
			if f.Payload.Status != "ok" {
				c.mu.Lock()
				c.notices = append(c.notices, "reply "+f.Payload.Status+": "+string(f.Payload.Response))
				c.mu.Unlock()
			}
			continue
		case "broadcast":
			c.mu.Lock()
			c.nBroadcasts++
			c.mu.Unlock()
			continue
		case "system":
			c.mu.Lock()
			c.notices = append(c.notices, f.Payload.Status+": "+f.Payload.Message)
			c.mu.Unlock()
			continue
		default:
			continue
		}
		id, _ := strconv.ParseInt(fmt.Sprint(record["id"]), 10, 64)
		c.mu.Lock()
		if c.seen[id]++; c.seen[id] == 1 {
			c.distinct++
		}
		c.n++
		c.mu.Unlock()
	}
}

// wait waits for the socket to end and returns why it ended.
func (c *counter) wait() error {
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		c.t.Fatal("socket did not close")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// waitFor waits until every id in [from, to] was seen, or the deadline.
// The tests use ids 1..N without gaps, so the count of distinct ids tells
// when to look closer.
func (c *counter) waitFor(from, to int64, within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		enough := int64(c.distinct) >= to-from+1
		c.mu.Unlock()
		if enough && c.missing(from, to) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *counter) missing(from, to int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for id := from; id <= to; id++ {
		if c.seen[id] == 0 {
			n++
		}
	}
	return n
}

func (c *counter) duplicates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.seen {
		if k > 1 {
			n += k - 1
		}
	}
	return n
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// contiguous is the highest id such that every id from 1 to it was seen.
func (c *counter) contiguous() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := int64(0)
	for c.seen[id+1] > 0 {
		id++
	}
	return id
}

// waitNotice waits for a system message containing text and returns it.
func (c *counter) waitNotice(text string, within time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, n := range c.notices {
			if strings.Contains(n, text) {
				c.mu.Unlock()
				return n
			}
		}
		c.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t.Fatalf("no system message with %q within %v; got %q", text, within, c.notices)
	return ""
}

func (c *counter) broadcasts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nBroadcasts
}
