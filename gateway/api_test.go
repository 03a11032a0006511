package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pgrealtime/realtime/phoenix"
)

// TestHTTPAPIDeliversThroughTheHub posts as realtime-js httpSend() does,
// JSON and binary, and reads the broadcasts on a socket: the core mounts
// gateway/httpapi and hands its messages to the hub (the API's own tests
// are in httpapi).
func TestHTTPAPIDeliversThroughTheHub(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.dial(t, "vsn=2.0.0")
	c.send(`["1","1","realtime:room 1","phx_join",{"config":{}}]`)
	c.readV2()
	post := func(path, contentType, body string) (int, string) {
		t.Helper()
		h := map[string]string{}
		if contentType != "" {
			h["Content-Type"] = contentType
		}
		req, _ := http.NewRequestWithContext(t.Context(), "POST", ts.httpURL()+path, strings.NewReader(body))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Content-Type")
	}

	// httpSend encodes the topic: "room 1" arrives as room%201.
	if status, _ := post("/realtime/v1/api/broadcast/room%201/events/cursor", "application/json", `{"x":1}`); status != http.StatusAccepted {
		t.Fatalf("JSON httpSend: %d", status)
	}
	if _, _, topic, event, p := c.readV2(); topic != "realtime:room 1" || event != "broadcast" || p["event"] != "cursor" ||
		p["payload"].(map[string]any)["x"] != float64(1) {
		t.Fatalf("got %s %s %v", topic, event, p)
	}
	if status, _ := post("/api/broadcast/room%201/events/blob", "application/octet-stream", "\x00\x01\x02"); status != http.StatusAccepted {
		t.Fatalf("binary httpSend: %d", status)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	typ, data, err := c.ws.Read(ctx)
	want, _ := phoenix.AppendUserBroadcast(nil, "realtime:room 1", "blob", nil, phoenix.EncodingBinary, []byte("\x00\x01\x02"))
	if err != nil || typ != websocket.MessageBinary || string(data) != string(want) {
		t.Fatalf("binary broadcast: %v %q %v, want kind 4 %q", typ, data, err, want)
	}

}

// TestHTTPAPICore checks what the core answers the API: the token check
// with the verifier's reason, and the sockets and health the admin route
// reports.
func TestHTTPAPICore(t *testing.T) {
	ts := secureServer(t)
	anon := signed(t, time.Now().Add(time.Hour))
	ts.dial(t, "vsn=2.0.0&apikey="+anon)
	status, body := do(t, http.DefaultClient, "POST", ts.httpURL()+"/api/broadcast", map[string]string{"apikey": "nope"})
	if status != http.StatusUnauthorized || !strings.HasPrefix(body, `{"message":"Unauthorized: `) {
		t.Errorf("broadcast with a bad token: %d %s", status, body)
	}
	if status, body := do(t, http.DefaultClient, "POST", ts.httpURL()+"/api/broadcast", map[string]string{"Authorization": "Bearer " + anon}); status != http.StatusAccepted {
		t.Errorf("broadcast with a valid token: %d %s", status, body)
	}
	// The socket counts once its handler has registered it, which may be
	// just after the client saw the upgrade.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		status, body = do(t, http.DefaultClient, "GET", ts.httpURL()+"/api/tenants/realtime-dev/health", map[string]string{"Authorization": "Bearer " + anon})
		if status == http.StatusOK && strings.Contains(body, `"healthy":true`) && strings.Contains(body, `"connected_cluster":1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tenant health: %d %s, want healthy with 1 socket", status, body)
		}
	}
}

func TestAPIBroadcast(t *testing.T) {
	ts := newTestServer(t, nil)
	c := ts.dial(t, "vsn=2.0.0")
	c.send(`["1","1","realtime:room1","phx_join",{"config":{}}]`)
	c.readV2()
	httpURL := "http" + strings.TrimPrefix(ts.url, "ws")
	resp, err := http.Post(httpURL+"/api/broadcast", "application/json",
		strings.NewReader(`{"messages":[{"topic":"room1","event":"note","payload":{"n":1}}]}`))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, _, topic, event, p := c.readV2(); topic != "realtime:room1" || event != "broadcast" || p["event"] != "note" || p["type"] != "broadcast" {
		t.Fatalf("got %s %s %v", topic, event, p)
	}
	resp, _ = http.Post(httpURL+"/api/broadcast", "application/json", strings.NewReader(`{"messages":[{"event":"x"}]}`))
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("missing topic: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

// TestMetrics checks the counters apiCore.Stats hands gateway/httpapi and
// the hub's collectors, as scraped.
func TestMetrics(t *testing.T) {
	ts := newTestServer(t, func(c *Options) { c.ExposeMetrics = true })
	c := ts.dial(t, "")
	joinTopic(t, c, "realtime:*", "1")
	ts.hub.Route(serviceUpdate("1", "1", "2"))
	c.read()
	resp, err := http.Get(ts.httpURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"realtime_sockets 1", "realtime_channels 1", "realtime_replication_lag_seconds", "realtime_changes_total 1", "realtime_messages_sent_total 1",
		`realtime_disconnects_total{reason="slow_consumer"} 0`, "realtime_commit_to_send_seconds_count 1", "realtime_replication_live 1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

// httpURL is the test server's base URL for plain HTTP.
func (ts *testServer) httpURL() string { return "http" + strings.TrimPrefix(ts.url, "ws") }

// viaHost returns a client that sends every request to the test server
// whatever host its URL names, as Kong sends the 2.x server's requests to
// realtime-dev.supabase-realtime.
func (ts *testServer) viaHost() *http.Client {
	addr := strings.TrimPrefix(ts.httpURL(), "http://")
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}}
}

func do(t *testing.T, c *http.Client, method, url string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(`{"messages":[{"topic":"room","event":"e","payload":{}}]}`))
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
	return resp.StatusCode, string(b)
}

// TestTenantFromHost checks the tenant checks (gateway/httpapi's, tested
// there) as the core mounts them, and that the sockets they refuse count
// among the core's refused connections.
func TestTenantFromHost(t *testing.T) {
	ts := newTestServer(t, func(c *Options) { c.TenantFromHost = true })
	hc := ts.viaHost()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://realtime-dev.supabase-realtime:4000/socket/websocket?vsn=2.0.0", &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("socket for the configured tenant: %v", err)
	}
	ws.Close(websocket.StatusNormalClosure, "")

	for _, tc := range []struct {
		method, url string
		status      int
		body        string
	}{
		{"GET", "http://other.supabase-realtime:4000/socket/websocket", 404, `{"error":"Tenant not found"}`},
		{"GET", "http://localhost:4000/realtime/v1/websocket", 404, `{"error":"Tenant not found"}`},
		{"GET", "http://other.example.com/realtime/v1/nothing", 404, `{"error":"Tenant not found"}`},
		{"POST", "http://other.example.com/api/broadcast", 401, `{"message":"Tenant not found in database"}`},
		{"POST", "http://other.example.com/realtime/v1/api/broadcast", 401, `{"message":"Tenant not found in database"}`},
		{"POST", "http://realtime-dev/realtime/v1/api/broadcast", 202, ""},
		// Not tenant-scoped in the 2.x server either.
		{"GET", "http://other.example.com/health", 200, `"live":true`},
	} {
		status, body := do(t, hc, tc.method, tc.url, nil)
		if status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.url, status, body, tc.status, tc.body)
		}
	}
	if n := ts.srv.refused.Load(); n != 3 {
		t.Errorf("refused connections = %d, want the 3 refused socket paths", n)
	}
}
