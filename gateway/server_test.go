package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pglogrepl"

	"github.com/pgrealtime/realtime/gateway/outbox"
	"github.com/pgrealtime/realtime/replication"
)

type testServer struct {
	url string
	srv *Server
	hub *Hub
	// dialOpts reach the server when it is not on TCP (newPipeServer).
	dialOpts *websocket.DialOptions
}

// buildTestServer makes a quiet server and its hub, with the options mod
// and modHub (either may be nil) set.
func buildTestServer(t testing.TB, mod func(*Options), modHub func(*HubOptions)) (*Server, *Hub) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts, hubOpts := Options{Logger: log}, HubOptions{Logger: log}
	if mod != nil {
		mod(&opts)
	}
	if modHub != nil {
		modHub(&hubOpts)
	}
	hub := NewHub(hubOpts)
	srv, err := NewServer(opts, hub, nil)
	if err != nil {
		t.Fatal(err)
	}
	return srv, hub
}

func newTestServer(t testing.TB, mod func(*Options)) *testServer {
	t.Helper()
	return newTestServerHub(t, mod, nil)
}

// newTestServerHub is newTestServer with options for the hub too.
func newTestServerHub(t testing.TB, mod func(*Options), modHub func(*HubOptions)) *testServer {
	t.Helper()
	srv, hub := buildTestServer(t, mod, modHub)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.CloseSockets(ctx); err != nil {
			t.Errorf("CloseSockets: %v", err)
		}
		hs.Close()
	})
	return &testServer{url: "ws" + strings.TrimPrefix(hs.URL, "http"), srv: srv, hub: hub}
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func (ts *testServer) dial(t *testing.T, query string) *client {
	t.Helper()
	ws, _, err := websocket.Dial(t.Context(), ts.url+"/socket/websocket?"+query, ts.dialOpts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { ws.CloseNow() })
	return &client{t: t, ws: ws}
}

func (c *client) send(frame string) {
	c.t.Helper()
	if err := c.ws.Write(c.t.Context(), websocket.MessageText, []byte(frame)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readTimeout bounds a test read; a read that times out also closes the
// socket (coder/websocket), so it is never used to probe for silence.
const readTimeout = 10 * time.Second

// read returns the next frame as a generic JSON value.
func (c *client) read() map[string]any {
	c.t.Helper()
	// Long enough for a token to expire past its leeway.
	ctx, cancel := context.WithTimeout(c.t.Context(), readTimeout)
	defer cancel()
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatalf("frame %s is not a JSON object: %v", data, err)
	}
	return m
}

func (c *client) readRaw() string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), readTimeout)
	defer cancel()
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return string(data)
}

// readV2 reads one text frame of a vsn 2.0.0 socket.
func (c *client) readV2() (joinRef, ref any, topic, event string, payload map[string]any) {
	c.t.Helper()
	raw := c.readRaw()
	var arr []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &arr); err != nil || len(arr) != 5 {
		c.t.Fatalf("not a v2 frame: %s", raw)
	}
	json.Unmarshal(arr[0], &joinRef)
	json.Unmarshal(arr[1], &ref)
	json.Unmarshal(arr[2], &topic)
	json.Unmarshal(arr[3], &event)
	json.Unmarshal(arr[4], &payload)
	return
}

func reply(m map[string]any) (status string, response map[string]any) {
	p, _ := m["payload"].(map[string]any)
	status, _ = p["status"].(string)
	response, _ = p["response"].(map[string]any)
	return status, response
}

func TestHeartbeat(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.dial(t, "vsn=1.0.0")
	c.send(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"5"}`)
	if got, want := c.readRaw(), `{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"5","topic":"phoenix"}`; got != want {
		t.Fatalf("heartbeat reply = %s, want %s", got, want)
	}
	c2 := ts.dial(t, "vsn=2.0.0")
	c2.send(`[null,"4","phoenix","heartbeat",{}]`)
	if got, want := c2.readRaw(), `[null,"4","phoenix","phx_reply",{"response":{},"status":"ok"}]`; got != want {
		t.Fatalf("v2 heartbeat reply = %s, want %s", got, want)
	}
}

func TestJoinLeave(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.dial(t, "vsn=1.0.0")
	c.send(`{"topic":"realtime:public:service","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}`)
	if got, want := c.readRaw(), `{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"1","topic":"realtime:public:service"}`; got != want {
		t.Fatalf("join reply = %s, want %s", got, want)
	}
	c.send(`{"topic":"realtime:public:service","event":"access_token","payload":{"access_token":null},"ref":"2","join_ref":"1"}`)
	c.send(`{"topic":"realtime:public:service","event":"phx_leave","payload":{},"ref":"3","join_ref":"1"}`)
	if got, want := c.readRaw(), `{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"3","topic":"realtime:public:service"}`; got != want {
		t.Fatalf("leave reply = %s (access_token must get no reply), want %s", got, want)
	}
	if got, want := c.readRaw(), `{"event":"phx_close","payload":{},"ref":"1","topic":"realtime:public:service"}`; got != want {
		t.Fatalf("close = %s, want %s", got, want)
	}
}

func TestBadInputGetsErrorsAndSocketSurvives(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.dial(t, "vsn=1.0.0")
	tests := []struct{ frame, wantReason, wantTopic string }{
		{`{not json`, "malformed message", "phoenix"},
		{`{"topic":"realtime:x","event":"phx_join","ref":"7"}`, "missing key(s) payload", "realtime:x"},
		{`{"topic":"realtime:public:t","event":"bogus","payload":{},"ref":"8"}`, "unmatched topic", "realtime:public:t"},
		{`{"topic":"room1","event":"phx_join","payload":{},"ref":"9"}`, `start with "realtime:"`, "room1"},
		{`{"topic":"realtime:public:t:id=gt.5","event":"phx_join","payload":{},"ref":"10"}`, "eq only", "realtime:public:t:id=gt.5"},
		{`{"topic":"realtime:public:t","event":"phx_join","payload":[1],"ref":"11"}`, "must be a JSON object", "realtime:public:t"},
		{`[]`, "malformed message", "phoenix"},
	}
	for _, tc := range tests {
		c.send(tc.frame)
		m := c.read()
		status, resp := reply(m)
		reason, _ := resp["reason"].(string)
		if status != "error" || !strings.Contains(reason, tc.wantReason) || m["topic"] != tc.wantTopic {
			t.Fatalf("frame %s: got %v, want error reply on %q containing %q", tc.frame, m, tc.wantTopic, tc.wantReason)
		}
	}
	c.send(`{"topic":"realtime:public:t","event":"phx_join","payload":{},"ref":"12"}`)
	c.read()
	c.send(`{"topic":"realtime:public:t","event":"shout","payload":{},"ref":"13"}`)
	if _, resp := reply(c.read()); !strings.Contains(resp["reason"].(string), `unknown event "shout"`) {
		t.Fatalf("unknown event reply = %v", resp)
	}
	c.send(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"14"}`)
	if status, _ := reply(c.read()); status != "ok" {
		t.Fatal("socket did not survive bad input")
	}
	// A binary frame on a vsn 1.0.0 socket gets a clear error too.
	if err := c.ws.Write(t.Context(), websocket.MessageBinary, []byte{3, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if _, resp := reply(c.read()); !strings.Contains(resp["reason"].(string), "binary frames") {
		t.Fatalf("binary frame reply = %v", resp)
	}
}

func TestOversizedFrameClosesOnlyThatSocket(t *testing.T) {
	ts := newTestServer(t, func(c *Options) { c.MaxFrameBytes = 1024 })
	bad := ts.dial(t, "")
	good := ts.dial(t, "")
	bad.send(`{"topic":"phoenix","event":"heartbeat","payload":{"x":"` + strings.Repeat("a", 2048) + `"},"ref":"1"}`)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, _, err := bad.ws.Read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("oversized frame: err = %v, want close 1009", err)
	}
	good.send(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}`)
	if status, _ := reply(good.read()); status != "ok" {
		t.Fatal("other socket affected")
	}
	// Counted once the socket's goroutines end. The read limit's error is
	// recognised by websocket.ErrMessageTooBig, not by its text.
	deadline := time.Now().Add(5 * time.Second)
	for ts.srv.disconnects[outbox.FrameTooBig].Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("disconnects: frame_too_big %d, read_error %d; want the oversized frame counted as frame_too_big",
				ts.srv.disconnects[outbox.FrameTooBig].Load(), ts.srv.disconnects[outbox.ReadError].Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func joinTopic(t *testing.T, c *client, topic, ref string) {
	t.Helper()
	c.send(`{"topic":"` + topic + `","event":"phx_join","payload":{},"ref":"` + ref + `","join_ref":"` + ref + `"}`)
	if status, resp := reply(c.read()); status != "ok" {
		t.Fatalf("join %s: %s %v", topic, status, resp)
	}
}

// serviceRelation is the seed's service table, as pgoutput describes it.
func serviceRelation() *replication.Relation {
	return replication.NewRelation(16390, "public", "service", 'f', []replication.Column{
		{Name: "id", Type: "int8", TypeOID: 20, TypeModifier: -1, Key: true},
		{Name: "name", Type: "varchar", TypeOID: 1043, TypeModifier: 259, Key: true},
		{Name: "status_id", Type: "int8", TypeOID: 20, TypeModifier: -1, Key: true},
	})
}

func text(s string) replication.Value { return replication.Value{State: replication.Text, Text: s} }

func serviceUpdate(id, from, to string) replication.Batch {
	rel := serviceRelation()
	return replication.Batch{Commit: true, CommitLSN: pglogrepl.LSN(100), Changes: []replication.Change{{
		Op: replication.Update, Rel: rel, CommitTime: time.Now(),
		New: []replication.Value{text(id), text("Reboque"), text(to)},
		Old: []replication.Value{text(id), text("Reboque"), text(from)},
	}}}
}

func TestRouteOncePerMatchingTopic(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.dial(t, "vsn=1.0.0")
	joinTopic(t, c, "realtime:public:service", "1")
	joinTopic(t, c, "realtime:public:service:status_id=eq.1", "2")
	joinTopic(t, c, "realtime:public:service:status_id=eq.2", "3")
	v2 := ts.dial(t, "vsn=2.0.0")
	v2.send(`["1","1","realtime:*","phx_join",{}]`)
	if got := v2.readRaw(); !strings.Contains(got, `"ok"`) {
		t.Fatalf("v2 join: %s", got)
	}
	ts.hub.Route(serviceUpdate("1", "1", "2"))
	for _, want := range []string{"realtime:public:service", "realtime:public:service:status_id=eq.2"} {
		m := c.read()
		if m["topic"] != want || m["event"] != "UPDATE" || m["ref"] != nil {
			t.Fatalf("got %v, want UPDATE on %s", m, want)
		}
		rec := m["payload"].(map[string]any)["record"].(map[string]any)
		if rec["status_id"] != "2" {
			t.Fatalf("record = %v", rec)
		}
	}
	got := v2.readRaw()
	if !strings.HasPrefix(got, `[null,null,"realtime:*","UPDATE",{"columns"`) {
		t.Fatalf("v2 frame = %s", got)
	}
	// Nothing else: the eq.1 topic must not have received the change.
	c.send(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"9"}`)
	if m := c.read(); m["event"] != "phx_reply" {
		t.Fatalf("unexpected extra frame %v", m)
	}
}

func TestSlowConsumerIsDisconnectedWithReason(t *testing.T) {
	ts := newTestServer(t, func(c *Options) {
		c.OutboundQueueBytes, c.SlowConsumerGrace, c.WriteTimeout = 64<<10, 200*time.Millisecond, time.Second
	})
	slow := ts.dial(t, "")
	joinTopic(t, slow, "realtime:*", "1")
	fast := ts.dial(t, "")
	joinTopic(t, fast, "realtime:public:service:id=eq.1", "1")
	// The slow client never reads; routing must not block on it.
	deadline := time.Now().Add(20 * time.Second)
	for ts.srv.disconnects[outbox.SlowConsumer].Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("slow consumer was never disconnected")
		}
		ts.hub.Route(serviceUpdate("2", "1", "2"))
	}
	ts.hub.Route(serviceUpdate("1", "1", "3"))
	if m := fast.read(); m["event"] != "UPDATE" {
		t.Fatalf("fast client got %v", m)
	}
	// The slow client's TCP buffer is full, so no close frame can reach
	// it: it reads what was sent, then the connection ends.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var err error
	for err == nil {
		_, _, err = slow.ws.Read(ctx)
	}
	if ctx.Err() != nil {
		t.Fatal("slow client's connection was not closed")
	}
}

func TestRouterWaitsForAReadingClient(t *testing.T) {
	ts := newTestServer(t, func(c *Options) { c.OutboundQueueBytes, c.SlowConsumerGrace = 16<<10, 5*time.Second })
	c := ts.dial(t, "")
	joinTopic(t, c, "realtime:*", "1")
	const n = 2000 // about 1 MB of frames through a 16 KiB queue
	got := make(chan int, 1)
	go readFrames(c.ws, n, got)
	for range n {
		ts.hub.Route(serviceUpdate("1", "1", "2"))
	}
	if count := <-got; count != n {
		t.Fatalf("a reading client got %d of %d changes", count, n)
	}
	if d := ts.srv.disconnects[outbox.SlowConsumer].Load(); d != 0 {
		t.Fatalf("%d slow-consumer disconnects of a client that kept reading", d)
	}
}

// While routing waits for a full socket, it holds no lock: other sockets
// join (and get their replies) meanwhile.
func TestJoinsGoOnWhileRoutingWaits(t *testing.T) {
	ts := newTestServer(t, func(c *Options) { c.OutboundQueueBytes, c.SlowConsumerGrace = 16<<10, 3*time.Second })
	slow := dialTinyBuffer(t, ts.url+"/socket/websocket")
	slow.Write(t.Context(), websocket.MessageText, []byte(`{"topic":"realtime:*","event":"phx_join","payload":{},"ref":"1"}`))
	time.Sleep(100 * time.Millisecond) // the join is handled
	// One transaction, far more than the slow socket's kernel buffers and
	// queue hold: the router waits in the middle of it.
	big := serviceUpdate("1", "1", "2")
	for len(big.Changes) < 20000 {
		big.Changes = append(big.Changes, big.Changes[0])
	}
	routed := make(chan struct{})
	go func() {
		defer close(routed)
		ts.hub.Route(big)
	}()
	// Join once the router is waiting for the full socket.
	for !ts.srv.anyQueueFull() {
		select {
		case <-routed:
			t.Fatal("the slow consumer was closed before its queue was seen full")
		case <-time.After(5 * time.Millisecond):
		}
	}
	other := ts.dial(t, "")
	joinTopic(t, other, "realtime:public:status", "1")
	select {
	case <-routed:
		t.Fatal("the join waited for the slow consumer's grace")
	default:
	}
	<-routed
}

func (s *Server) anyQueueFull() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.box.Behind() {
			return true
		}
	}
	return false
}

// dialTinyBuffer opens a socket with a tiny kernel receive buffer that
// never reads, so that its gateway queue fills quickly.
func dialTinyBuffer(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	dialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return err
	}}
	ws, _, err := websocket.Dial(t.Context(), url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

func TestSecureChannels(t *testing.T) {
	const secret = "super-secret-jwt-token-with-at-least-32-characters"
	ts := newTestServer(t, func(c *Options) { c.SecureChannels, c.JWTSecret = true, secret })
	sign := func(claims jwt.MapClaims, key string, method jwt.SigningMethod) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := sign(jwt.MapClaims{"role": "anon", "exp": time.Now().Add(time.Hour).Unix()}, secret, jwt.SigningMethodHS256)
	for name, token := range map[string]string{
		"missing":      "",
		"garbage":      "not-a-jwt",
		"wrong secret": sign(jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}, "other-secret-other-secret-other-secret", jwt.SigningMethodHS256),
		"expired":      sign(jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix()}, secret, jwt.SigningMethodHS256),
		"alg none":     "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJleHAiOjQxMDI0NDQ4MDB9.",
	} {
		_, resp, err := websocket.Dial(t.Context(), ts.url+"/socket/websocket?apikey="+token, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s token: err=%v resp=%v, want 403", name, err, resp)
		}
	}
	c := ts.dial(t, "vsn=1.0.0&apikey="+valid)
	joinTopic(t, c, "realtime:public:service", "1")
	noExp := sign(jwt.MapClaims{"role": "anon"}, secret, jwt.SigningMethodHS256)
	c.send(`{"topic":"realtime:public:status","event":"phx_join","payload":{"user_token":"` + noExp + `"},"ref":"2"}`)
	if status, resp := reply(c.read()); status != "error" || !strings.Contains(resp["reason"].(string), "exp") {
		t.Fatalf("join with a token without exp: %s %v", status, resp)
	}
}

// notYetLive is a replication stream that has not started yet: the first
// slot does not exist until started is closed.
type notYetLive struct{ started chan struct{} }

func (n notYetLive) Status() replication.Status { return replication.Status{} }
func (n notYetLive) Table(context.Context, string, string) (replication.TableInfo, error) {
	return replication.TableInfo{}, io.EOF // unknown: the join is not refused for it
}
func (n notYetLive) WaitLive(ctx context.Context) error {
	select {
	case <-n.started:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestJoinWaitsForTheFirstSlot(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	repl := notYetLive{started: make(chan struct{})}
	srv, err := NewServer(Options{Logger: log}, NewHub(HubOptions{Logger: log}), repl)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	ts := &testServer{url: "ws" + strings.TrimPrefix(hs.URL, "http"), srv: srv, hub: srv.hub}
	c := ts.dial(t, "")
	c.send(`{"topic":"realtime:public:t","event":"phx_join","payload":{},"ref":"1"}`)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	_, data, err := c.ws.Read(ctx)
	cancel()
	if err == nil {
		t.Fatalf("join answered before the stream started: %s", data)
	}
	// The read deadline closed that socket; join again and start the stream.
	c = ts.dial(t, "")
	c.send(`{"topic":"realtime:public:t","event":"phx_join","payload":{},"ref":"2"}`)
	time.AfterFunc(100*time.Millisecond, func() { close(repl.started) })
	if status, _ := reply(c.read()); status != "ok" {
		t.Fatalf("join after the stream started: %s", status)
	}
	srv.CloseSockets(t.Context())
}

// readFrames reads up to n frames from ws, then sends how many it read.
func readFrames(ws *websocket.Conn, n int, got chan<- int) {
	count := 0
	for count < n {
		if _, _, err := ws.Read(context.Background()); err != nil {
			break
		}
		count++
	}
	got <- count
}
