package v2

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// garbage is what hostile sockets send: broken JSON, wrong shapes, unknown
// events and topics, bad filters and configs, in both serializers.
var garbage = []string{
	``, `{`, `[`, `null`, `42`, `"x"`, `[]`, `{}`, `[1,2,3]`, `[null,null,null,null,null]`,
	`{"topic":1,"event":2,"payload":3,"ref":4}`,
	`{"topic":"realtime:public:items","event":"phx_join"}`,
	`{"topic":"nope","event":"phx_join","payload":{},"ref":"1"}`,
	`{"topic":"realtime:public:items:id=zz.1","event":"phx_join","payload":{},"ref":"1"}`,
	`{"topic":"realtime:public:no_such_table","event":"phx_join","payload":{},"ref":"1"}`,
	`{"topic":"realtime:public:items","event":"what","payload":{},"ref":"1"}`,
	`{"topic":"phoenix","event":"heartbeat","payload":[],"ref":{}}`,
	`["1","1","realtime:x","phx_join",{"config":{"postgres_changes":[{"event":"*","schema":"public","table":"items","filter":"id=eq."}]}}]`,
	`["1","1","realtime:x","phx_join",{"config":{"postgres_changes":[{"event":"SELECT","schema":1}]}}]`,
	`["1","1","realtime:x","phx_join",{"config":{"postgres_changes":"all","broadcast":7,"presence":[]}}]`,
	`["1","1","realtime:x","phx_join",{"config":{"postgres_changes":[{"event":"*","schema":"public","table":"items","filter":"id=in.(a,b"}]}}]`,
	`["1","2","realtime:x","broadcast",{"type":"broadcast","event":"e","payload":{}}]`,
	`["1","3","realtime:x","presence",{"type":"presence","event":"track","payload":"x"}]`,
	`[null,"4","phoenix","heartbeat",{}, "extra"]`,
	"\xff\xfe\x00garbage",
}

// A well-behaved realtime-js client keeps receiving every change while
// other sockets send thousands of malformed frames, oversized frames, join
// floods, bad-token connects and binary garbage, and some never read.
func TestHostileClientsDoNotHurtAGoodOne(t *testing.T) {
	t.Parallel()
	g := startSecure(t, "MAX_FRAME_BYTES=65536", "MAX_JOINS_PER_SECOND=20", "OUTBOUND_QUEUE_BYTES=262144",
		"SLOW_CONSUMER_GRACE_MS=200", "EXPOSE_METRICS=true", "LOG_LEVEL=warning")
	token := hs256(t, jwt.MapClaims{"iss": "supabase", "role": "anon", "exp": time.Now().Add(time.Hour).Unix()}, jwtSecret)
	good := g.startClientKey(t, "2119", token)
	good.subscribed(itemsBinding())

	// The hostile sockets finish on their own; the timeout only bounds a
	// gateway that stopped answering.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	base := fmt.Sprintf("ws://127.0.0.1:%d/socket/websocket?apikey=%s&vsn=", g.Port, token)
	var hostile sync.WaitGroup
	var capped, handled, malformed, oversized, tooBig, joins, limited, badConnects, forbidden atomic.Int64

	// Malformed frames, in both serializers; the server answers, never dies.
	for i := range 8 {
		hostile.Go(func() {
			vsn := []string{"1.0.0", "2.0.0"}[i%2]
			ws, _, err := websocket.Dial(ctx, base+vsn, nil)
			if err != nil {
				return
			}
			defer ws.CloseNow()
			ws.SetReadLimit(1 << 20)
			done := make(chan struct{})
			go func() {
				// The heartbeat sent last is answered once every frame
				// before it was handled.
				defer close(done)
				for {
					_, data, err := ws.Read(ctx)
					if err != nil {
						t.Logf("malformed-frame socket %d (vsn %s): %v", i, vsn, err)
						return
					}
					if strings.Contains(string(data), `"end"`) && strings.Contains(string(data), "phoenix") {
						handled.Add(1)
						return
					}
				}
			}()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for n := range 1000 {
				frame := []byte(garbage[r.IntN(len(garbage))])
				typ := websocket.MessageText
				if n%7 == 0 {
					frame, typ = randomBytes(r, 1+r.IntN(64)), websocket.MessageBinary
				}
				if ws.Write(ctx, typ, frame) != nil {
					return
				}
				malformed.Add(1)
			}
			end := map[string]string{"1.0.0": `{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"end"}`, "2.0.0": `[null,"end","phoenix","heartbeat",{}]`}[vsn]
			ws.Write(ctx, websocket.MessageText, []byte(end))
			<-done
		})
	}
	// Oversized frames: the socket is closed with 1009, others go on.
	hostile.Go(func() {
		for range 20 {
			ws, _, err := websocket.Dial(ctx, base+"2.0.0", nil)
			if err != nil {
				return
			}
			ws.SetReadLimit(1 << 20)
			ws.Write(ctx, websocket.MessageText, []byte(`["1","1","realtime:x","broadcast",{"payload":"`+strings.Repeat("x", 100_000)+`"}]`))
			oversized.Add(1)
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
						tooBig.Add(1)
					}
					break
				}
			}
			ws.CloseNow()
		}
	})
	// Join floods of broadcast channels (no catalog lookups, so they arrive
	// faster than the rate limit): most are refused.
	for i := range 4 {
		hostile.Go(func() {
			ws, _, err := websocket.Dial(ctx, base+"2.0.0", nil)
			if err != nil {
				return
			}
			defer ws.CloseNow()
			ws.SetReadLimit(1 << 20)
			go func() {
				for n := range 1000 {
					frame := fmt.Appendf(nil, `["%[1]d","%[1]d","realtime:flood-%[2]d-%[1]d","phx_join",{"config":{"broadcast":{"self":true}}}]`, n, i)
					if ws.Write(ctx, websocket.MessageText, frame) != nil {
						return
					}
					joins.Add(1)
				}
			}()
			// Every join gets its reply, refused or not.
			for range 1000 {
				_, data, err := ws.Read(ctx)
				if err != nil {
					return
				}
				switch {
				case strings.Contains(string(data), "ClientJoinRateLimitReached"):
					limited.Add(1)
				case strings.Contains(string(data), "ChannelRateLimitReached"):
					capped.Add(1)
				}
			}
		})
	}
	// Connects with bad tokens: 403, never a socket.
	hostile.Go(func() {
		for n := range 300 {
			bad := []string{"garbage", "", noneToken(t), hs256(t, claims(time.Hour), "not-the-secret-not-the-secret-not-the-secret")}[n%4]
			_, resp, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/socket/websocket?vsn=1.0.0&apikey=%s", g.Port, bad), nil)
			badConnects.Add(1)
			if err != nil && resp != nil && resp.StatusCode == http.StatusForbidden {
				forbidden.Add(1)
			}
		}
	})
	// Sockets that subscribe to everything and never read: slow consumers.
	var slow []*websocket.Conn
	for range 3 {
		ws := dialTinyBuffer(t, ctx, base+"1.0.0")
		// Three matching topics: every change is queued three times.
		for _, topic := range []string{"realtime:*", "realtime:public", "realtime:public:items"} {
			ws.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"topic":%q,"event":"phx_join","payload":{},"ref":"1"}`, topic))
		}
		slow = append(slow, ws)
	}

	const rows = 600
	// Large rows fill the never-read sockets' kernel buffers and then their
	// queues well within the run (600 × 3 × 6 KB per socket).
	bigName := strings.Repeat("n", 6000)
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Go(func() {
			for id := w; id < rows; id += 4 {
				exec1(t, g.db, "INSERT INTO public.items (id, name) VALUES ($1, $2)", id, bigName)
			}
		})
	}
	writers.Wait()

	seen := map[float64]bool{}
	deadline := time.After(60 * time.Second)
	for len(seen) < rows {
		select {
		case e, ok := <-good.events:
			if !ok {
				t.Fatal("the good client exited")
			}
			if row, _ := e["new"].(map[string]any); e.str("kind") == "pg" {
				seen[row["id"].(float64)] = true
			}
		case <-deadline:
			t.Fatalf("the good client got %d of %d changes", len(seen), rows)
		}
	}
	hostile.Wait()
	cancel()
	for _, ws := range slow {
		ws.CloseNow()
	}

	// A socket closed as a slow consumer is counted once it is gone, which
	// takes until its close frame is written or given up on.
	metrics := fetch(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", g.Port))
	for deadline := time.Now().Add(15 * time.Second); strings.HasSuffix(metricLine(metrics, `reason="slow_consumer"`), " 0") && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		metrics = fetch(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", g.Port))
	}
	t.Logf("good client: %d of %d changes, 0 lost", len(seen), rows)
	t.Logf("hostile: %d malformed frames (%d of 8 sockets answered after them), %d oversized (%d closed 1009), %d joins (%d rate-limited, %d past the channel cap), %d bad-token connects (%d got 403)",
		malformed.Load(), handled.Load(), oversized.Load(), tooBig.Load(), joins.Load(), limited.Load(), capped.Load(), badConnects.Load(), forbidden.Load())
	for _, want := range []string{`reason="slow_consumer"`, `reason="frame_too_big"`, "realtime_panics_total 0", "bad_frames_total"} {
		line := metricLine(metrics, want)
		if line == "" || (strings.Contains(want, "reason=") && strings.HasSuffix(line, " 0")) {
			t.Errorf("metrics: want %s (non-zero), got %q", want, line)
		}
		t.Logf("metric %s", line)
	}
	if tooBig.Load() == 0 || limited.Load() == 0 || limited.Load()+capped.Load() < 3600 || forbidden.Load() != badConnects.Load() || malformed.Load() != 8000 || handled.Load() != 8 {
		t.Errorf("a hostile path was not exercised as planned")
	}
	if strings.Contains(g.Logs.String(), "panic") {
		t.Errorf("the gateway logged a panic:\n%s", g.Logs.String())
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", g.Port))
	if err != nil {
		t.Fatalf("gateway unhealthy after the attack: %v", err)
	}
	// An unclosed body pins the keep-alive connection and its two
	// goroutines for the rest of the run.
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("gateway unhealthy after the attack: %s", resp.Status)
	}
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// dialTinyBuffer opens a socket whose kernel receive buffer is tiny, so
// that a client that never reads backs up into the gateway's queue quickly
// instead of into loopback's large buffers.
func dialTinyBuffer(t *testing.T, ctx context.Context, url string) *websocket.Conn {
	t.Helper()
	dialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return err
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func metricLine(text, contains string) string {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if l := sc.Text(); !strings.HasPrefix(l, "#") && strings.Contains(l, contains) {
			return l
		}
	}
	return ""
}
