package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pgrealtime/realtime/gateway/cluster"
)

// fakeCore stands in for the gateway's core: it records what the API
// hands it and answers the checks as a test sets them.
type fakeCore struct {
	// token, when set, is the one token Verify accepts.
	token string
	// refuse lists the "topic/extension" writes MayWrite refuses.
	refuse   map[string]bool
	storeErr error
	// stats, when set, is what Stats reports.
	stats *Stats

	refused atomic.Int64

	mu       sync.Mutex
	sent     []cluster.RoomMessage
	stored   []string
	mayWrite []string // the token of each write check
}

func (f *fakeCore) Verify(token string) error {
	if f.token != "" && token != f.token {
		return errors.New("Token has expired 3 seconds ago")
	}
	return nil
}

func (f *fakeCore) MayWrite(token, topic, ext string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mayWrite = append(f.mayWrite, token)
	return !f.refuse[topic+"/"+ext]
}

func (f *fakeCore) Store(room cluster.RoomRef, event string, payload json.RawMessage, binary []byte) (string, error) {
	if f.storeErr != nil {
		return "", f.storeErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stored = append(f.stored, room.Topic+"/"+event)
	return "0b6f1d0e-7f3a-4c1e-9d55-2b8f2f6a8c11", nil
}

func (f *fakeCore) Send(m cluster.RoomMessage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
}

func (f *fakeCore) Stats() Stats {
	if f.stats != nil {
		return *f.stats
	}
	return Stats{Sockets: 3, Live: true}
}

func (f *fakeCore) RefuseSocket() { f.refused.Add(1) }

func (f *fakeCore) messages() []cluster.RoomMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cluster.RoomMessage(nil), f.sent...)
}

// testAPI serves the API as the core mounts it, with a stand-in socket
// route behind its guards.
type testAPI struct {
	url  string
	core *fakeCore
}

func newTestAPI(t *testing.T, cfg Config, core *fakeCore) *testAPI {
	t.Helper()
	if core == nil {
		core = &fakeCore{}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.Tenant == "" {
		cfg.Tenant = "realtime-dev"
	}
	if cfg.CORSOrigins == nil {
		cfg.CORSOrigins = []string{"*"}
	}
	if cfg.MaxBroadcastBytes == 0 {
		cfg.MaxBroadcastBytes = 3_000_000
	}
	api := New(cfg, core)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /socket/websocket", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "socket") })
	api.Register(mux)
	hs := httptest.NewServer(api.Wrap(mux))
	t.Cleanup(hs.Close)
	return &testAPI{url: hs.URL, core: core}
}

// viaHost returns a client that sends every request to the test server
// whatever host its URL names, as Kong sends the 2.x server's requests to
// realtime-dev.supabase-realtime.
func (ta *testAPI) viaHost() *http.Client {
	addr := strings.TrimPrefix(ta.url, "http://")
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}}
}

// post sends body with the headers and returns the status, the
// Content-Type and the body.
func post(t *testing.T, c *http.Client, url, body string, header map[string]string) (int, string, string) {
	t.Helper()
	return request(t, c, "POST", url, body, header)
}

func request(t *testing.T, c *http.Client, method, url, body string, header map[string]string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestTokenRefused(t *testing.T) {
	ta := newTestAPI(t, Config{}, &fakeCore{token: "good"})
	for _, path := range []string{"/api/broadcast", "/realtime/v1/api/broadcast", "/api/broadcast/room/events/e"} {
		status, ct, body := post(t, http.DefaultClient, ta.url+path, `{}`, map[string]string{"Authorization": "Bearer bad"})
		if status != http.StatusUnauthorized || ct != "application/json" || body != `{"message":"Unauthorized: Token has expired 3 seconds ago"}`+"\n" {
			t.Errorf("%s with a bad token: %d %s %q", path, status, ct, body)
		}
	}
	// The bearer wins over the apikey header; the apikey alone is enough.
	for _, h := range []map[string]string{{"Authorization": "Bearer good", "apikey": "bad"}, {"apikey": "good"}} {
		if status, _, body := post(t, http.DefaultClient, ta.url+"/api/broadcast", `{"messages":[]}`, h); status != http.StatusAccepted {
			t.Errorf("headers %v: %d %s", h, status, body)
		}
	}
}
