package v2

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	natsserver "github.com/nats-io/nats-server/v2/server"
)

// startNATS runs an embedded NATS server on a free port for one test.
func startNATS(t *testing.T) string {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, MaxPayload: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready in 10s")
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

// startCluster starts n gateways on one database and one NATS, with a
// permanent slot and env, and returns them with the index of the slot
// holder.
func startCluster(t *testing.T, dbURL string, n int, env ...string) ([]gateway, int) {
	t.Helper()
	natsURL := startNATS(t)
	// Slots belong to the whole PostgreSQL cluster, not one database.
	slot := fmt.Sprintf("cluster_%d", time.Now().UnixNano())
	nodes := make([]gateway, n)
	for i := range nodes {
		nodes[i] = startGateway(t, dbURL, append([]string{"CLUSTER_NATS_URL=" + natsURL, "SLOT_NAME=" + slot, "REJOIN_GRACE_MS=0"}, env...)...)
	}
	return nodes, slotHolder(t, nodes, -1)
}

// slotHolder waits for a node other than not to say it holds the slot.
func slotHolder(t *testing.T, nodes []gateway, not int) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for i, g := range nodes {
			if i != not && strings.Contains(g.Logs.String(), "holding the replication slot for the cluster") {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no node took the slot in 30s")
	return -1
}

// collectIDs gathers the ids of the INSERTs c receives until it has every
// id in want (then 300 ms more, to see duplicates) or 30 s pass. It
// returns how many times each id arrived and when each first arrived.
func collectIDs(c *nodeClient, want map[int64]bool) (map[int64]int, map[int64]float64) {
	seen := map[int64]int{}
	first := map[int64]float64{}
	missing := len(want)
	done := time.After(30 * time.Second)
	var settle <-chan time.Time
	take := func(e event) {
		if e.str("kind") != "pg" || e.str("type") != "INSERT" {
			return
		}
		rec, _ := e["new"].(map[string]any)
		id := int64(rec["id"].(float64))
		if seen[id] == 0 {
			first[id], _ = e["recv_ms"].(float64)
			if want[id] {
				missing--
			}
		}
		seen[id]++
	}
	for _, e := range c.backlog {
		take(e)
	}
	c.backlog = nil
	for {
		if missing == 0 && settle == nil {
			settle = time.After(300 * time.Millisecond)
		}
		select {
		case e, ok := <-c.events:
			if !ok {
				return seen, first
			}
			take(e)
		case <-settle:
			return seen, first
		case <-done:
			return seen, first
		}
	}
}

// TestClusterThreeNodes runs three gateways on one PostgreSQL and one NATS:
// clients on every node receive every change exactly once; broadcast and
// presence cross nodes; when the slot holder is killed, another node takes
// the slot and nothing committed is lost. It logs the failover time.
func TestClusterThreeNodes(t *testing.T) {
	dbURL := database(t, itemsSchema)
	nodes, leader := startCluster(t, dbURL, 3)
	t.Logf("node %d holds the slot", leader)

	clients := make([]*nodeClient, len(nodes))
	for i, g := range nodes {
		clients[i] = g.startClient(t, "2119")
		clients[i].subscribed(map[string]any{"name": "changes", "bindings": []any{binding("INSERT", "")}})
	}

	// Every change reaches a client on every node, once.
	want := map[int64]bool{}
	for id := int64(1); id <= 100; id++ {
		exec1(t, dbURL, "INSERT INTO items (id, name) VALUES ($1, 'n')", id)
		want[id] = true
	}
	for i, c := range clients {
		seen, _ := collectIDs(c, want)
		checkExactlyOnce(t, fmt.Sprintf("client on node %d", i), seen, want)
	}

	// Broadcast and presence between clients on different nodes.
	other := (leader + 1) % 3
	a, b := clients[leader], clients[other]
	room := map[string]any{"broadcast": map[string]any{"self": false}}
	a.subscribed(map[string]any{"name": "room", "config": map[string]any{"broadcast": room["broadcast"], "presence": map[string]any{"key": "alice"}}, "broadcast": []string{"*"}, "presence": true})
	b.subscribed(map[string]any{"name": "room", "config": map[string]any{"broadcast": room["broadcast"], "presence": map[string]any{"key": "bob"}}, "broadcast": []string{"*"}, "presence": true})
	a.send(map[string]any{"cmd": "send", "name": "room", "event": "hello", "payload": map[string]any{"from": "a"}})
	b.expect("a's broadcast from another node", func(e event) bool { return e.str("kind") == "broadcast" && e.str("event") == "hello" })
	b.send(map[string]any{"cmd": "send", "name": "room", "event": "hi", "payload": map[string]any{"from": "b"}})
	a.expect("b's broadcast from another node", func(e event) bool { return e.str("kind") == "broadcast" && e.str("event") == "hi" })
	a.send(map[string]any{"cmd": "track", "name": "room", "payload": map[string]any{"mood": "happy"}})
	b.send(map[string]any{"cmd": "track", "name": "room", "payload": map[string]any{"mood": "calm"}})
	both := func(e event) bool {
		st, _ := e["state"].(map[string]any)
		return e.str("kind") == "presence" && st["alice"] != nil && st["bob"] != nil
	}
	a.expect("both in a's presence", both)
	b.expect("both in b's presence", both)
	// A third client joining later, on the third node, sees both at once.
	third := nodes[(leader+2)%3].startClient(t, "2119")
	third.subscribed(map[string]any{"name": "room", "config": map[string]any{"presence": map[string]any{"key": "carol"}}, "presence": true})
	third.expect("the others' presence from two nodes", both)

	// Failover: write without pause, kill the slot holder, keep writing.
	var (
		mu        sync.Mutex
		committed = map[int64]bool{}
		afterKill = map[int64]bool{}
		killedAt  time.Time
	)
	ctx, stop := context.WithCancel(context.Background())
	writerDone := make(chan error, 1)
	go func() {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			writerDone <- err
			return
		}
		defer conn.Close(context.Background())
		for id := int64(1001); ctx.Err() == nil; id++ {
			if _, err := conn.Exec(ctx, "INSERT INTO items (id, name) VALUES ($1, 'f')", id); err != nil {
				if ctx.Err() != nil {
					break
				}
				writerDone <- err
				return
			}
			mu.Lock()
			committed[id] = true
			if !killedAt.IsZero() {
				afterKill[id] = true
			}
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
		writerDone <- nil
	}()
	time.Sleep(time.Second)
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	nodes[leader].Kill()
	next := slotHolder(t, nodes, leader)
	took := time.Since(killedAt)
	time.Sleep(3 * time.Second)
	stop()
	if err := <-writerDone; err != nil {
		t.Fatalf("writer: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("killed node %d; node %d logged holding the slot %v later; %d rows committed during the test, %d after the kill",
		leader, next, took.Round(time.Millisecond), len(committed), len(afterKill))
	if len(afterKill) == 0 {
		t.Fatal("nothing was committed after the kill")
	}
	var failover time.Duration
	for i, c := range clients {
		if i == leader {
			continue
		}
		seen, first := collectIDs(c, committed)
		checkExactlyOnce(t, fmt.Sprintf("client on surviving node %d", i), seen, committed)
		earliest := 0.0
		for id := range afterKill {
			if ms := first[id]; ms > 0 && (earliest == 0 || ms < earliest) {
				earliest = ms
			}
		}
		d := time.Duration((earliest - float64(killedAt.UnixNano())/1e6) * float64(time.Millisecond))
		failover = max(failover, d)
	}
	t.Logf("failover: first change committed after the kill reached the surviving clients %v after the kill", failover.Round(time.Millisecond))
	// The killed node's presence leaves the others' state once it stops
	// answering.
	b.expect("alice gone with her node", func(e event) bool {
		st, _ := e["state"].(map[string]any)
		return e.str("kind") == "presence" && st["alice"] == nil && st["bob"] != nil
	})
}

func checkExactlyOnce(t *testing.T, who string, seen map[int64]int, want map[int64]bool) {
	t.Helper()
	var lost, dup []int64
	for id := range want {
		if seen[id] == 0 {
			lost = append(lost, id)
		}
	}
	for id, n := range seen {
		if n > 1 {
			dup = append(dup, id)
		}
	}
	t.Logf("%s: %d of %d changes, %d lost, %d delivered more than once", who, len(want)-len(lost), len(want), len(lost), len(dup))
	if len(lost) > 0 || len(dup) > 0 {
		t.Errorf("%s: lost %v, duplicated %v", who, head(lost), head(dup))
	}
}

func head(ids []int64) []int64 { return ids[:min(len(ids), 10)] }
