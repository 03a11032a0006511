package v2

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	subA = "9f1c6a52-3c5e-4d7b-8a41-0d2f3b6e7a11"
	subB = "2b7e4f90-6d1a-4c3e-9b25-7e8f0a1c2d33"
)

// privatePolicies: a user reads and writes broadcast on "user:<own id>"
// and "user:<own id>:scratch", and may store (persist) broadcasts only on
// the first; signed-in users read presence in "lobby" and broadcast in
// "news"; no one may track or write there; anon's policy fails when
// evaluated.
const privatePolicies = `
CREATE POLICY own_read ON realtime.messages FOR SELECT TO authenticated
  USING (realtime.topic() IN ('user:' || auth.uid()::text, 'user:' || auth.uid()::text || ':scratch') AND extension = 'broadcast');
CREATE POLICY own_write ON realtime.messages FOR INSERT TO authenticated
  WITH CHECK (realtime.topic() IN ('user:' || auth.uid()::text, 'user:' || auth.uid()::text || ':scratch') AND extension = 'broadcast');
CREATE POLICY own_persist ON realtime.messages FOR INSERT TO authenticated
  WITH CHECK (realtime.topic() = 'user:' || auth.uid()::text AND extension = 'persistence');
CREATE POLICY lobby_read ON realtime.messages FOR SELECT TO authenticated
  USING (realtime.topic() = 'lobby' AND extension = 'presence');
CREATE POLICY news_read ON realtime.messages FOR SELECT TO authenticated
  USING (realtime.topic() = 'news' AND extension = 'broadcast');
CREATE POLICY broken ON realtime.messages FOR SELECT TO anon USING (1 / 0 = 1);`

type privateGateway struct {
	gateway
	db string
}

// startPrivate runs a secure gateway on a Supabase-like database whose
// realtime schema the gateway migrates, then adds privatePolicies.
func startPrivate(t *testing.T) privateGateway {
	t.Helper()
	db := supabaseDB(t, itemsSchema)
	g := startGateway(t, db, "SECURE_CHANNELS=true", "JWT_SECRET="+jwtSecret)
	exec1(t, db, privatePolicies)
	return privateGateway{g, db}
}

func userToken(t *testing.T, role, sub string) string {
	t.Helper()
	c := jwt.MapClaims{"role": role, "exp": time.Now().Add(time.Hour).Unix()}
	if sub != "" {
		c["sub"] = sub
	}
	return hs256(t, c, jwtSecret)
}

func private(name string, extra map[string]any) map[string]any {
	sub := map[string]any{"name": name, "config": map[string]any{"private": true}, "broadcast": []string{"*"}}
	for k, v := range extra {
		sub[k] = v
	}
	return sub
}

// refused subscribes and expects the original's refusal for topic.
func (c *nodeClient) refused(sub map[string]any) {
	c.t.Helper()
	sub["cmd"] = "subscribe"
	c.send(sub)
	name := sub["name"].(string)
	e := c.expect("refusal of "+name, func(e event) bool { return e.str("kind") == "status" && e.str("name") == name })
	want := "Unauthorized: You do not have permissions to read from this Channel topic: " + name
	if e.str("status") != "CHANNEL_ERROR" || !strings.Contains(e.str("error"), want) {
		c.t.Fatalf("join of private %s: %v; want CHANNEL_ERROR with %q", name, e, want)
	}
}

// Joins are decided by the policies, per user; the private and public rooms
// of one name are separate; realtime.send private reaches only the private.
func TestPrivateJoinByPolicy(t *testing.T) {
	t.Parallel()
	g := startPrivate(t)
	a := g.startClientKey(t, "supabase", userToken(t, "authenticated", subA))
	b := g.startClientKey(t, "2119", userToken(t, "authenticated", subB))
	anon := g.startClientKey(t, "2119", userToken(t, "anon", ""))

	a.subscribed(private("user:"+subA, nil))
	b.refused(private("user:"+subA, nil))
	anon.refused(private("room", nil)) // its policy fails: refused, nothing else hurt
	anon.subscribed(map[string]any{"name": "user:" + subA, "broadcast": []string{"*"}})

	exec1(t, g.db, fmt.Sprintf(`SELECT realtime.send('{"n":1}', 'ev', 'user:%s')`, subA))
	exec1(t, g.db, fmt.Sprintf(`SELECT realtime.send('{"n":2}', 'ev', 'user:%s', false)`, subA))
	a.dbBroadcast("user:"+subA, "ev", 1)
	anon.dbBroadcast("user:"+subA, "ev", 2)
	anon.noBroadcast("user:"+subA, 1)
	exec1(t, g.db, fmt.Sprintf(`SELECT realtime.send('{"n":3}', 'ev', 'user:%s')`, subA))
	a.dbBroadcast("user:"+subA, "ev", 3)
	a.noBroadcast("user:"+subA, 2)
}

// A member gets only the extensions it may read, broadcasts it may not
// write are dropped, and a track it may not make is refused.
func TestPrivatePerExtension(t *testing.T) {
	t.Parallel()
	g := startPrivate(t)
	a := g.startClientKey(t, "2119", userToken(t, "authenticated", subA))
	svc := g.startClientKey(t, "2119", userToken(t, "service_role", ""))
	a.subscribed(private("lobby", map[string]any{"presence": true}))
	a.subscribed(private("news", nil))
	a.subscribed(private("user:"+subA, nil))
	svc.subscribed(private("news", nil))
	svc.subscribed(private("user:"+subA, nil))

	// lobby: presence only, so a database broadcast there does not reach a.
	exec1(t, g.db, `SELECT realtime.send('{"n":1}', 'ev', 'lobby')`)
	exec1(t, g.db, `SELECT realtime.send('{"n":2}', 'ev', 'news')`)
	a.dbBroadcast("news", "ev", 2)
	a.noBroadcast("lobby", 1)

	// a may read news but not write it; its own topic it may write. One
	// socket's pushes are handled in order, so svc would see n=3 first.
	a.send(map[string]any{"cmd": "send", "name": "news", "event": "ev", "payload": map[string]any{"n": 3}})
	a.send(map[string]any{"cmd": "send", "name": "user:" + subA, "event": "ev", "payload": map[string]any{"n": 4}})
	svc.dbBroadcast("user:"+subA, "ev", 4)
	svc.noBroadcast("news", 3)

	a.send(map[string]any{"cmd": "track", "name": "lobby", "payload": map[string]any{"u": "a"}})
	if e := a.expect("track result", func(e event) bool { return e.str("kind") == "tracked" }); e.str("result") == "ok" {
		t.Errorf("track without a presence write policy: %v", e)
	}
}

// A token refresh that loses read access closes the channel.
func TestPrivateRefreshLosesAccess(t *testing.T) {
	t.Parallel()
	g := startPrivate(t)
	a := g.startClientKey(t, "2119", userToken(t, "authenticated", subA))
	a.subscribed(private("user:"+subA, nil))
	a.send(map[string]any{"cmd": "setAuth", "token": userToken(t, "authenticated", subB)})
	e := a.expect("system error", func(e event) bool { return e.str("kind") == "system" })
	p, _ := e["payload"].(map[string]any)
	if msg, _ := p["message"].(string); p["status"] != "error" || !strings.Contains(msg, "You no longer have permission to read from this Channel topic: user:"+subA) {
		t.Fatalf("system after losing access: %v", e)
	}
	a.expect("CLOSED", func(e event) bool { return e.str("kind") == "status" && e.str("status") == "CLOSED" })
}

// POST /api/broadcast delivers private messages only where the caller's
// token may write.
func TestPrivateBroadcastAPI(t *testing.T) {
	t.Parallel()
	g := startPrivate(t)
	svc := g.startClientKey(t, "2119", userToken(t, "service_role", ""))
	svc.subscribed(private("user:"+subA, nil))
	svc.subscribed(private("user:"+subB, nil))
	body := fmt.Sprintf(`{"messages":[
		{"topic":"user:%s","event":"ev","payload":{"n":1},"private":true},
		{"topic":"user:%s","event":"ev","payload":{"n":2},"private":true}]}`, subB, subA)
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/api/broadcast", g.Port), bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+userToken(t, "authenticated", subA))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/broadcast: %d", resp.StatusCode)
	}
	svc.dbBroadcast("user:"+subA, "ev", 2)
	svc.noBroadcast("user:"+subB, 1)
}

// replayed picks a broadcast with n on name and reports whether it was
// marked replayed.
func (c *nodeClient) replayedBroadcast(name string, n int) bool {
	c.t.Helper()
	e := c.dbBroadcast(name, "ev", n)
	meta, _ := e["meta"].(map[string]any)
	if id, _ := meta["id"].(string); len(id) != 36 {
		c.t.Errorf("%s n=%d: meta %v, want a stored id", name, n, e["meta"])
	}
	return meta["replayed"] == true
}

// Persisted broadcasts (socket send and httpSend) reach members live with
// their stored id, and a later join with replay gets the newest of them
// first, marked replayed, then live ones, without duplicates.
func TestPersistAndReplay(t *testing.T) {
	t.Parallel()
	g := startPrivate(t)
	topic := "user:" + subA
	tokenA := userToken(t, "authenticated", subA)
	a := g.startClientKey(t, "2119", tokenA)
	live := g.startClientKey(t, "2119", tokenA)
	a.subscribed(private(topic, nil))
	live.subscribed(private(topic, nil))
	since := time.Now().Add(-2 * time.Second).UnixMilli()
	for n := 1; n <= 3; n++ {
		a.send(map[string]any{"cmd": "send", "name": topic, "event": "ev", "payload": map[string]any{"n": n}, "persist": true})
	}
	a.send(map[string]any{"cmd": "httpSend", "name": topic, "event": "ev", "payload": map[string]any{"n": 4}, "persist": true})
	if e := a.expect("httpSend", func(e event) bool { return e.str("kind") == "httpSent" }); e["error"] != nil {
		t.Fatalf("httpSend with persist: %v", e)
	}
	a.send(map[string]any{"cmd": "httpSend", "name": topic, "event": "ev", "payload": []int{7, 8, 9}, "binary": true, "persist": map[string]any{"ttl": 60}})
	if e := a.expect("httpSend", func(e event) bool { return e.str("kind") == "httpSent" }); e["error"] != nil {
		t.Fatalf("binary httpSend with persist: %v", e)
	}
	for n := 1; n <= 4; n++ {
		if live.replayedBroadcast(topic, n) {
			t.Errorf("live n=%d marked replayed", n)
		}
	}
	if live.binaryBroadcast(topic, "[7 8 9]") {
		t.Error("live binary marked replayed")
	}

	r := g.startClientKey(t, "2119", tokenA)
	r.subscribed(private(topic, map[string]any{"config": map[string]any{"private": true,
		"broadcast": map[string]any{"replay": map[string]any{"since": since, "limit": 3}}}}))
	exec1(t, g.db, fmt.Sprintf(`SELECT realtime.send('{"n":5}', 'ev', '%s')`, topic))
	for n := 3; n <= 4; n++ {
		if !r.replayedBroadcast(topic, n) {
			t.Errorf("replayed n=%d not marked replayed", n)
		}
	}
	if !r.binaryBroadcast(topic, "[7 8 9]") {
		t.Error("replayed binary not marked replayed")
	}
	if r.replayedBroadcast(topic, 5) {
		t.Error("live n=5 marked replayed")
	}
	r.noBroadcast(topic, 1)
	r.noBroadcast(topic, 2)
	for _, e := range r.backlog {
		if e.str("kind") == "broadcast" {
			t.Errorf("unexpected or duplicate broadcast: %v", e)
		}
	}
	// No stored message is delivered a second time by the stream.
	live.replayedBroadcast(topic, 5)
	for _, e := range live.backlog {
		if e.str("kind") == "broadcast" {
			t.Errorf("stored broadcast delivered twice: %v", e)
		}
	}
}

// binaryBroadcast picks the binary broadcast whose bytes print as bytes
// on name, checks it carries a stored id, and reports whether it was
// marked replayed.
func (c *nodeClient) binaryBroadcast(name, bytes string) bool {
	c.t.Helper()
	e := c.expect(name+" binary broadcast "+bytes, func(e event) bool {
		p, _ := e["payload"].(map[string]any)
		return e.str("kind") == "broadcast" && e.str("name") == name && p["bytes"] != nil && fmt.Sprint(p["bytes"]) == bytes
	})
	meta, _ := e["meta"].(map[string]any)
	if id, _ := meta["id"].(string); len(id) != 36 {
		c.t.Errorf("%s binary %s: meta %v, want a stored id", name, bytes, e["meta"])
	}
	return meta["replayed"] == true
}

// Storing needs its own policy (extension 'persistence'): a user who may
// broadcast on a topic but not store there gets a clear refusal from send
// and httpSend, and nothing is delivered or kept.
func TestPersistNeedsPolicy(t *testing.T) {
	t.Parallel()
	g := startPrivate(t)
	scratch := "user:" + subA + ":scratch"
	a := g.startClientKey(t, "2119", userToken(t, "authenticated", subA))
	svc := g.startClientKey(t, "2119", userToken(t, "service_role", ""))
	svc.subscribed(private(scratch, nil))
	a.subscribed(private(scratch, map[string]any{"config": map[string]any{"private": true, "broadcast": map[string]any{"ack": true}}}))

	a.send(map[string]any{"cmd": "send", "name": scratch, "event": "ev", "payload": map[string]any{"n": 1}, "persist": true})
	want := "You do not have permissions to store messages on this Channel topic: " + scratch
	if e := a.expect("send", func(e event) bool { return e.str("kind") == "sent" }); !strings.Contains(e.str("result"), want) {
		t.Errorf("send with persist, no persistence policy: %v; want %q", e, want)
	}
	a.send(map[string]any{"cmd": "httpSend", "name": scratch, "event": "ev", "payload": map[string]any{"n": 2}, "persist": true})
	if e := a.expect("httpSend", func(e event) bool { return e.str("kind") == "httpSent" }); !strings.Contains(e.str("error"), want) {
		t.Errorf("httpSend with persist, no persistence policy: %v; want %q", e, want)
	}
	// Without persist the same user broadcasts there.
	a.send(map[string]any{"cmd": "send", "name": scratch, "event": "ev", "payload": map[string]any{"n": 3}})
	svc.dbBroadcast(scratch, "ev", 3)
	svc.noBroadcast(scratch, 1)
	svc.noBroadcast(scratch, 2)
	exec1(t, g.db, fmt.Sprintf(`DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM realtime.messages WHERE topic = %s AND payload IS NOT NULL) THEN
    RAISE EXCEPTION 'a message was stored without the persistence policy';
  END IF; END $$`, "'"+scratch+"'"))
}

// replication_ready: the system event once the stream is live.
func TestReplicationReady(t *testing.T) {
	t.Parallel()
	g := startPrivate(t)
	c := g.startClientKey(t, "supabase", userToken(t, "authenticated", subA))
	c.subscribed(map[string]any{"name": "room", "config": map[string]any{"broadcast": map[string]any{"replication_ready": true}}})
	e := c.expect("system", func(e event) bool { return e.str("kind") == "system" })
	p, _ := e["payload"].(map[string]any)
	if p["status"] != "ok" || p["message"] != "Replication connection established" || p["extension"] != "system" || p["channel"] != "room" {
		t.Errorf("replication_ready system event: %v", p)
	}
}

// httpSend on a private channel, JSON and binary, runs the write check.
func TestPrivateHTTPSend(t *testing.T) {
	t.Parallel()
	g := startPrivate(t)
	a := g.startClientKey(t, "supabase", userToken(t, "authenticated", subA))
	svc := g.startClientKey(t, "2119", userToken(t, "service_role", ""))
	svc.subscribed(private("user:"+subA, nil))
	svc.subscribed(private("user:"+subB, nil))
	a.subscribed(private("user:"+subA, nil))
	a.refused(private("user:"+subB, nil))
	httpSend := func(name string, payload any, binary bool) {
		t.Helper()
		a.send(map[string]any{"cmd": "httpSend", "name": name, "event": "ev", "payload": payload, "binary": binary})
		if e := a.expect("httpSend", func(e event) bool { return e.str("kind") == "httpSent" }); e["error"] != nil {
			t.Fatalf("httpSend: %v", e)
		}
	}
	httpSend("user:"+subA, map[string]any{"n": 1}, false)
	httpSend("user:"+subA, []int{1, 2, 3}, true)
	httpSend("user:"+subB, map[string]any{"n": 2}, false) // not allowed: accepted, not delivered
	httpSend("user:"+subA, map[string]any{"n": 3}, false)
	svc.dbBroadcast("user:"+subA, "ev", 1)
	e := svc.expect("binary httpSend", func(e event) bool {
		p, _ := e["payload"].(map[string]any)
		return e.str("kind") == "broadcast" && p["bytes"] != nil
	})
	if got := fmt.Sprint(e["payload"].(map[string]any)["bytes"]); got != "[1 2 3]" {
		t.Errorf("binary payload = %s, want [1 2 3]", got)
	}
	svc.dbBroadcast("user:"+subA, "ev", 3)
	svc.noBroadcast("user:"+subB, 2)
}

// In a cluster every node runs the checks for its own members, and
// private broadcasts from the database reach them on any node.
func TestPrivateCluster(t *testing.T) {
	t.Parallel()
	db := supabaseDB(t, itemsSchema)
	natsURL := startNATS(t)
	slot := fmt.Sprintf("private_cluster_%d", time.Now().UnixNano())
	nodes := make([]gateway, 2)
	for i := range nodes {
		nodes[i] = startGateway(t, db, "CLUSTER_NATS_URL="+natsURL, "SLOT_NAME="+slot, "REJOIN_GRACE_MS=0",
			"SECURE_CHANNELS=true", "JWT_SECRET="+jwtSecret)
	}
	exec1(t, db, privatePolicies)
	holder := slotHolder(t, nodes, -1)
	other := nodes[1-holder]
	topic := "user:" + subA
	a := other.startClientKey(t, "2119", userToken(t, "authenticated", subA))
	b := other.startClientKey(t, "288", userToken(t, "authenticated", subB))
	svc := nodes[holder].startClientKey(t, "2119", userToken(t, "service_role", ""))
	a.subscribed(private(topic, nil))
	b.refused(private(topic, nil))
	svc.subscribed(private(topic, nil))
	exec1(t, db, fmt.Sprintf(`SELECT realtime.send('{"n":1}', 'ev', '%s')`, topic))
	checkMeta(t, a.dbBroadcast(topic, "ev", 1))
	checkMeta(t, svc.dbBroadcast(topic, "ev", 1))
	// A socket broadcast from a's node reaches svc on the other node.
	a.send(map[string]any{"cmd": "send", "name": topic, "event": "ev", "payload": map[string]any{"n": 2}})
	svc.dbBroadcast(topic, "ev", 2)
}
